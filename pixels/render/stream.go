package render

import (
	"fmt"
	"image"
	"io"
	"math"

	"github.com/huren-health/huren/errkind"
	"github.com/huren-health/huren/pixels"
)

// ErrNeedsFrame: NewGreyStream cannot render this frame from streamed
// rows (colour, palette, 1- or 32-bit samples). Render the decoded frame
// instead.
var ErrNeedsFrame = errkind.New(errkind.Unsupported, "render: needs the whole decoded frame")

// GreyStream renders a single-sample grey frame whose stored values arrive
// row by row (a native frame read from storage), without ever holding the
// frame: each row goes through the same stored-value table Render uses and
// lands in the output image, or, for strong reductions, straight into the
// box filter's sums, so a 2500×3000 radiograph previewed at 512 pixels never
// exists at full size. The result is pixel-identical to Render of the
// decoded frame. A GreyStream is used by one goroutine.
type GreyStream struct {
	cols, rows, bits int
	rowBytes         int
	pipe             greyPipeline
	storedBits       int
	signed           bool
	// table maps stored values to output bytes; nil until Scan has seen
	// every row when the VOI is the frame's value range, whose stored
	// values seen collects (one bit per possible value).
	table   []uint8
	seen    []uint64
	scanned int
	p       Params
	y       int         // next row
	full    *image.Gray // output at natural size (nil when box or js)
	box     *boxReducer
	rowBuf  []uint8 // mapped row handed to box
	// js encodes a large full-size JPEG strip by strip while rows arrive:
	// strip (a recycled buffer) is being filled, stripI is its index.
	js     *jpegStrips
	strip  *image.Gray
	stripI int
}

// NewGreyStream prepares the rendering of one frame described by info
// (Frames ignored) with the display attributes d. It fails with
// ErrNeedsFrame when streaming cannot give Render's result, and ErrParams
// for invalid parameters.
func NewGreyStream(info pixels.Info, d pixels.Display, p Params) (*GreyStream, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if info.SamplesPerPixel != 1 || info.Photometric == "PALETTE COLOR" || (info.BitsAllocated != 8 && info.BitsAllocated != 16) {
		return nil, fmt.Errorf("%d samples, %d bits, %s: %w", info.SamplesPerPixel, info.BitsAllocated, info.Photometric, ErrNeedsFrame)
	}
	if info.Rows <= 0 || info.Columns <= 0 {
		return nil, fmt.Errorf("render: %d×%d frame: %w", info.Columns, info.Rows, pixels.ErrCorrupt)
	}
	f := &pixels.Frame{BitsAllocated: info.BitsAllocated, BitsStored: info.BitsStored}
	s := &GreyStream{cols: info.Columns, rows: info.Rows, bits: info.BitsAllocated,
		rowBytes: info.Columns * info.BitsAllocated / 8, p: p,
		pipe: newGreyPipeline(d, p, info.Photometric), storedBits: storedBits(f), signed: info.Signed()}
	if s.pipe.voi == nil {
		// The window is the frame's value range: Scan every row first.
		s.seen = make([]uint64, (1<<s.storedBits+63)/64)
	} else {
		s.table = s.pipe.table(s.storedBits, s.signed)
	}
	tw, th, scale := fit(s.cols, s.rows, p.Width, p.Height)
	natural := tw == s.cols && th == s.rows
	switch js, ok := newJPEGStrips(s.cols, s.rows, p.quality()); {
	case scale < 0.5 && !natural:
		s.box = newBoxReducer(s.cols, s.rows, tw, th)
		s.rowBuf = make([]uint8, s.cols)
	case natural && p.Format != "image/png" && ok:
		s.js, s.strip = js, js.buffer()
	default:
		s.full = image.NewGray(image.Rect(0, 0, s.cols, s.rows))
	}
	return s, nil
}

// RowBytes is the size of one stored row; Scan and Write take whole rows.
func (s *GreyStream) RowBytes() int { return s.rowBytes }

// NeedsScan reports that the VOI is the frame's value range (no window
// requested or in the file, no VOI LUT): every row must go through Scan
// before the first Write (read the frame twice).
func (s *GreyStream) NeedsScan() bool { return s.table == nil }

// Scan notes the stored values of the next rows (whole rows, in order).
func (s *GreyStream) Scan(src []byte) error {
	if s.table != nil {
		return fmt.Errorf("render: Scan after the window is known: %w", ErrParams)
	}
	if len(src)%s.rowBytes != 0 || s.scanned+len(src)/s.rowBytes > s.rows {
		return fmt.Errorf("render: %d bytes after %d of %d rows scanned: %w", len(src), s.scanned, s.rows, pixels.ErrCorrupt)
	}
	mask := 1<<s.storedBits - 1
	if s.bits == 8 {
		for _, v := range src {
			u := int(v) & mask
			s.seen[u/64] |= 1 << (u % 64)
		}
	} else {
		for i := 0; i+1 < len(src); i += 2 {
			u := (int(src[i]) | int(src[i+1])<<8) & mask
			s.seen[u/64] |= 1 << (u % 64)
		}
	}
	s.scanned += len(src) / s.rowBytes
	return nil
}

// rangeTable builds the table once every row was scanned: the window spans
// the modality values of the stored values present, as Render computes it
// over the decoded frame.
func (s *GreyStream) rangeTable() error {
	if s.scanned != s.rows {
		return fmt.Errorf("render: %d of %d rows scanned before the first Write: %w", s.scanned, s.rows, pixels.ErrCorrupt)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	size := 1 << s.storedBits
	for u := 0; u < size; u++ {
		if s.seen[u/64]&(1<<(u%64)) == 0 {
			continue
		}
		v := int64(u)
		if s.signed && u >= size/2 {
			v -= int64(size)
		}
		m := s.pipe.modality(v)
		lo, hi = math.Min(lo, m), math.Max(hi, m)
	}
	s.pipe.withRange(lo, hi)
	s.table, s.seen = s.pipe.table(s.storedBits, s.signed), nil
	return nil
}

// Write renders the next rows, given as stored bytes (little endian), a
// whole number of rows.
func (s *GreyStream) Write(src []byte) error {
	if s.table == nil {
		if err := s.rangeTable(); err != nil {
			return err
		}
	}
	if len(src)%s.rowBytes != 0 {
		return fmt.Errorf("render: %d bytes is not a whole number of %d-byte rows: %w", len(src), s.rowBytes, pixels.ErrCorrupt)
	}
	n := len(src) / s.rowBytes
	if s.y+n > s.rows {
		return fmt.Errorf("render: %d rows past the frame's %d: %w", s.y+n, s.rows, pixels.ErrCorrupt)
	}
	if s.full != nil {
		mapRow(s.full.Pix[s.y*s.cols:(s.y+n)*s.cols], src, s.bits, s.table)
		s.y += n
		return nil
	}
	if s.js != nil {
		for n > 0 {
			at := s.y - s.stripI*s.js.height // rows already in the strip
			k := min(n, s.js.height-at)
			mapRow(s.strip.Pix[at*s.cols:(at+k)*s.cols], src, s.bits, s.table)
			src, n, s.y = src[k*s.rowBytes:], n-k, s.y+k
			if at+k == s.js.height || s.y == s.rows {
				s.js.encode(s.stripI, s.strip.SubImage(image.Rect(0, 0, s.cols, at+k)).(*image.Gray), true)
				s.stripI++
				if s.y < s.rows {
					s.strip = s.js.buffer()
				}
			}
		}
		return nil
	}
	for i := 0; i < n; i++ {
		mapRow(s.rowBuf, src[i*s.rowBytes:], s.bits, s.table)
		s.box.row(s.rowBuf)
	}
	s.y += n
	return nil
}

// Encode writes the rendered image as p.Format once every row was
// written: the same bytes as Encode(w, Render(…), p).
func (s *GreyStream) Encode(w io.Writer) error {
	if s.js == nil {
		img, err := s.Image()
		if err != nil {
			return err
		}
		return Encode(w, img, s.p)
	}
	if s.y != s.rows {
		return fmt.Errorf("render: %d of %d rows written: %w", s.y, s.rows, pixels.ErrCorrupt)
	}
	return s.js.finish(w)
}

// Image returns the rendered image at the viewport size once every row
// was written. A large full-size JPEG rendering is encoded while its rows
// arrive and has no image: use Encode.
func (s *GreyStream) Image() (image.Image, error) {
	if s.y != s.rows {
		return nil, fmt.Errorf("render: %d of %d rows written: %w", s.y, s.rows, pixels.ErrCorrupt)
	}
	if s.js != nil {
		return nil, fmt.Errorf("render: a full-size JPEG stream has no image, use Encode: %w", ErrNeedsFrame)
	}
	if s.box != nil {
		return s.box.dst, nil
	}
	return resize(s.full, s.p.Width, s.p.Height), nil
}

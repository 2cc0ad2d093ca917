package render

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// stripMinPixels: grey images from this size up are JPEG-encoded in
// parallel strips. Below it (a CT slice, every preview) one encoder is as
// fast and the output is exactly image/jpeg's.
const stripMinPixels = 1 << 20

// encodeJPEG encodes img at quality q. A large grey image (a radiograph at
// full size: 7.5 Mpx, ~70 ms in one image/jpeg encoder) is cut into
// horizontal strips a multiple of 8 rows high, each encoded by image/jpeg
// on its own core, and the strips are joined into one baseline JPEG with a
// restart interval of one strip: every strip's entropy-coded data starts
// with DC predictions at zero and ends byte-aligned, which is exactly what
// a decoder expects after a restart marker. Each 8×8 block is coded as the
// single encoder would code it, so the decoded pixels are identical.
func encodeJPEG(w io.Writer, img image.Image, q int) error {
	opts := &jpeg.Options{Quality: q}
	g, ok := img.(*image.Gray)
	workers := runtime.GOMAXPROCS(0)
	if !ok || workers < 2 || g.Rect.Dx()*g.Rect.Dy() < stripMinPixels {
		return jpeg.Encode(w, img, opts)
	}
	b := g.Rect
	mcuCols, mcuRows := (b.Dx()+7)/8, (b.Dy()+7)/8
	if b.Dx() >= 1<<16 || b.Dy() >= 1<<16 {
		return jpeg.Encode(w, img, opts) // image/jpeg's own error
	}
	// Two strips per core balance uneven strips; the restart interval
	// (MCUs per strip) must fit in 16 bits.
	stripRows := (mcuRows + 2*workers - 1) / (2 * workers)
	stripRows = max(1, min(stripRows, 0xFFFF/mcuCols))
	n := (mcuRows + stripRows - 1) / stripRows
	if n < 2 {
		return jpeg.Encode(w, img, opts)
	}
	parts := make([]bytes.Buffer, n)
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				r := image.Rect(b.Min.X, b.Min.Y+i*stripRows*8, b.Max.X, min(b.Max.Y, b.Min.Y+(i+1)*stripRows*8))
				parts[i].Grow(r.Dx()*r.Dy()/8 + 1024)
				errs[i] = jpeg.Encode(&parts[i], g.SubImage(r), opts)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	header, sof, ok := jpegHeader(parts[0].Bytes())
	if !ok {
		return jpeg.Encode(w, img, opts) // not the layout this code knows: never guess
	}
	header = bytes.Clone(header)
	binary.BigEndian.PutUint16(header[sof+5:], uint16(b.Dy()))
	sos := len(header) - len(sosGray)
	out := make([]byte, 0, 16)
	out = append(out, header[:sos]...)
	out = append(out, 0xFF, 0xDD, 0, 4) // DRI: restart every strip
	out = binary.BigEndian.AppendUint16(out, uint16(stripRows*mcuCols))
	out = append(out, header[sos:]...)
	if _, err := w.Write(out); err != nil {
		return err
	}
	for i := range parts {
		p := parts[i].Bytes()
		h, _, ok := jpegHeader(p)
		if !ok || len(p) < len(h)+2 || p[len(p)-2] != 0xFF || p[len(p)-1] != 0xD9 {
			return errors.New("render: unexpected image/jpeg strip layout")
		}
		if _, err := w.Write(p[len(h) : len(p)-2]); err != nil {
			return err
		}
		marker := []byte{0xFF, 0xD9} // EOI after the last strip
		if i < n-1 {
			marker[1] = 0xD0 + byte(i%8) // RSTi
		}
		if _, err := w.Write(marker); err != nil {
			return err
		}
	}
	return nil
}

// sosGray is image/jpeg's Start Of Scan segment for one component.
var sosGray = []byte{0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00}

// jpegHeader returns the bytes of a one-component baseline JPEG up to and
// including its SOS segment, and the offset of its SOF0 marker; ok is false
// for any other layout.
func jpegHeader(b []byte) (header []byte, sof int, ok bool) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return nil, 0, false
	}
	sof = -1
	for p := 2; p+4 <= len(b); {
		if b[p] != 0xFF {
			return nil, 0, false
		}
		m, l := b[p+1], int(binary.BigEndian.Uint16(b[p+2:]))
		end := p + 2 + l
		if l < 2 || end > len(b) {
			return nil, 0, false
		}
		switch m {
		case 0xC0:
			if l != 11 || b[p+9] != 1 { // one component
				return nil, 0, false
			}
			sof = p
		case 0xDA:
			if sof < 0 || !bytes.Equal(b[p:end], sosGray) {
				return nil, 0, false
			}
			return b[:end], sof, true
		case 0xDB, 0xC4:
		default:
			return nil, 0, false
		}
		p = end
	}
	return nil, 0, false
}

package jpegls

import (
	"encoding/binary"
	"fmt"

	"github.com/huren-health/huren/pixels"
)

// Decoder decodes JPEG-LS frames in pure Go.
type Decoder struct{}

var _ pixels.Decoder = Decoder{}

// Available reports whether this build has the codec: always, since the
// decoder is pure Go. Kept so callers written for the cgo era still build.
const Available = true

// Marker codes (ISO/IEC 14495-1 C.1.1, T.81 B.1.1.3).
const (
	mSOI   = 0xD8
	mEOI   = 0xD9
	mSOS   = 0xDA
	mDNL   = 0xDC
	mDRI   = 0xDD
	mSOF55 = 0xF7 // JPEG-LS baseline frame
	mSOF57 = 0xF9 // JPEG-LS extended (ISO/IEC 14495-2) frame
	mLSE   = 0xF8
	mAPP8  = 0xE8
	mCOM   = 0xFE
)

// HP colour transforms signalled by an APP8 "mrfx" segment (outside the
// standard; CharLS and HP's LOCO-I write them).
const (
	xfNone = 0
	xfHP1  = 1
	xfHP2  = 2
	xfHP3  = 3
)

// params are the state the marker segments build up before and between
// scans.
type params struct {
	precision     int // P
	width, height int // X, Y (height may come from the DICOM header)
	ncomp         int
	ids           [4]byte
	done          [4]bool // component already decoded by an earlier scan
	// LSE preset coding parameters as written (0 = default).
	maxval, t1, t2, t3, reset int
	restart                   int
	transform                 int
}

// Decode decodes one JPEG-LS codestream into Frame layout.
func (Decoder) Decode(src []byte, info pixels.Info) (*pixels.Frame, error) {
	return decode(src, info)
}

func corrupt(format string, a ...any) error {
	return fmt.Errorf("jpeg-ls: "+format+": %w", append(a, pixels.ErrCorrupt)...)
}

func unsupported(format string, a ...any) error {
	return fmt.Errorf("jpeg-ls: "+format+": %w", append(a, pixels.ErrUnsupportedSyntax)...)
}

func decode(src []byte, info pixels.Info) (*pixels.Frame, error) {
	if len(src) < 4 || src[0] != 0xFF || src[1] != mSOI {
		return nil, corrupt("no SOI marker at the start of the %d-byte frame", len(src))
	}
	if info.BitsAllocated != 8 && info.BitsAllocated != 16 {
		return nil, unsupported("%d bits allocated (JPEG-LS decodes into 8 or 16)", info.BitsAllocated)
	}
	var (
		pr     params
		sof    bool
		frame  *pixels.Frame
		out    *output
		ndone  int
		nscans int
	)
	p := 2
	for {
		m, next, err := nextMarker(src, p)
		if err != nil {
			if frame != nil && ndone == pr.ncomp {
				break // every component is decoded; a missing EOI loses nothing
			}
			return nil, err
		}
		p = next
		if m == mEOI {
			break
		}
		switch {
		case m == mSOI:
			return nil, corrupt("second SOI marker")
		case m >= 0xD0 && m <= 0xD7:
			return nil, corrupt("RST%d marker outside a scan", m-0xD0)
		case m == mSOF57:
			return nil, unsupported("JPEG-LS part 2 (SOF57) frame")
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			return nil, corrupt("SOF%d (not JPEG-LS) in a JPEG-LS frame", m-0xC0)
		case m == mSOF55, m == mLSE, m == mSOS, m == mDRI, m == mDNL, m == mCOM, m >= 0xE0 && m <= 0xEF:
		default:
			return nil, corrupt("unexpected marker 0xFF%02X at %d", m, p-2)
		}
		seg, after, err := segment(src, p)
		if err != nil {
			return nil, err
		}
		p = after
		switch m {
		case mSOF55:
			if sof {
				return nil, corrupt("second SOF marker")
			}
			sof = true
			if err := parseSOF(seg, &pr); err != nil {
				return nil, err
			}
		case mLSE:
			if err := parseLSE(seg, &pr, frame != nil); err != nil {
				return nil, err
			}
		case mDRI:
			switch len(seg) { // 2, 3 or 4 bytes in JPEG-LS (C.2.5)
			case 2:
				pr.restart = int(binary.BigEndian.Uint16(seg))
			case 3:
				pr.restart = int(seg[0])<<16 | int(binary.BigEndian.Uint16(seg[1:]))
			case 4:
				pr.restart = int(binary.BigEndian.Uint32(seg) & 0x7FFFFFFF)
			default:
				return nil, corrupt("DRI segment of %d bytes", len(seg))
			}
		case mDNL:
			if len(seg) < 2 {
				return nil, corrupt("short DNL segment")
			}
			if n := int(binary.BigEndian.Uint16(seg)); n != info.Rows && n != 0 {
				return nil, corrupt("DNL says %d lines, header says %d", n, info.Rows)
			}
		case mAPP8:
			if len(seg) == 5 && string(seg[:4]) == "mrfx" {
				switch seg[4] {
				case xfNone, xfHP1, xfHP2, xfHP3:
					pr.transform = int(seg[4])
				default:
					return nil, unsupported("colour transform %d in APP8 mrfx segment", seg[4])
				}
			}
		case mSOS:
			if !sof {
				return nil, corrupt("SOS before SOF")
			}
			if nscans++; nscans > pr.ncomp {
				return nil, corrupt("more scans than components")
			}
			if frame == nil {
				if frame, out, err = newOutput(&pr, info); err != nil {
					return nil, err
				}
			}
			sc, err := parseSOS(seg, &pr)
			if err != nil {
				return nil, err
			}
			end, err := sc.decode(src[p:], out)
			if err != nil {
				return nil, err
			}
			for _, c := range sc.comps[:sc.ns] {
				pr.done[c] = true
			}
			ndone += sc.ns
			p += end
		}
	}
	if frame == nil || ndone != pr.ncomp {
		return nil, corrupt("codestream ends with %d of %d components decoded", ndone, pr.ncomp)
	}
	return frame, nil
}

// nextMarker expects a marker at p (fill bytes 0xFF allowed before it) and
// returns its code and the position after it.
func nextMarker(b []byte, p int) (byte, int, error) {
	if p >= len(b) {
		return 0, p, corrupt("codestream ends without EOI")
	}
	if b[p] != 0xFF {
		return 0, p, corrupt("expected a marker at %d, found 0x%02X", p, b[p])
	}
	for p < len(b) && b[p] == 0xFF {
		p++
	}
	if p >= len(b) {
		return 0, p, corrupt("codestream ends inside a marker")
	}
	return b[p], p + 1, nil
}

// segment reads a marker segment's payload at p (pointing at the length).
func segment(b []byte, p int) ([]byte, int, error) {
	if p+2 > len(b) {
		return nil, p, corrupt("truncated marker segment")
	}
	n := int(binary.BigEndian.Uint16(b[p:]))
	if n < 2 || p+n > len(b) {
		return nil, p, corrupt("marker segment length %d at %d", n, p)
	}
	return b[p+2 : p+n], p + n, nil
}

func parseSOF(seg []byte, pr *params) error {
	if len(seg) < 6 {
		return corrupt("short SOF segment")
	}
	pr.precision = int(seg[0])
	if pr.precision < 2 || pr.precision > 16 {
		return corrupt("precision %d bits (JPEG-LS allows 2..16)", pr.precision)
	}
	if h := int(binary.BigEndian.Uint16(seg[1:])); h != 0 {
		pr.height = h
	}
	if w := int(binary.BigEndian.Uint16(seg[3:])); w != 0 {
		pr.width = w
	}
	pr.ncomp = int(seg[5])
	if pr.ncomp < 1 || pr.ncomp > len(pr.ids) || len(seg) != 6+3*pr.ncomp {
		return corrupt("SOF with %d components in %d bytes", pr.ncomp, len(seg))
	}
	for i := 0; i < pr.ncomp; i++ {
		c := seg[6+3*i:]
		for j := 0; j < i; j++ {
			if pr.ids[j] == c[0] {
				return corrupt("component id %d twice in SOF", c[0])
			}
		}
		pr.ids[i] = c[0]
		if c[1] != 0x11 {
			return unsupported("subsampled component (H×V 0x%02X)", c[1])
		}
	}
	return nil
}

// parseLSE reads a JPEG-LS preset parameters segment (C.2.4.1).
func parseLSE(seg []byte, pr *params, started bool) error {
	if len(seg) < 1 {
		return corrupt("empty LSE segment")
	}
	switch seg[0] {
	case 1: // preset coding parameters
		if len(seg) != 11 {
			return corrupt("LSE preset coding parameters of %d bytes", len(seg))
		}
		pr.maxval = int(binary.BigEndian.Uint16(seg[1:]))
		pr.t1 = int(binary.BigEndian.Uint16(seg[3:]))
		pr.t2 = int(binary.BigEndian.Uint16(seg[5:]))
		pr.t3 = int(binary.BigEndian.Uint16(seg[7:]))
		pr.reset = int(binary.BigEndian.Uint16(seg[9:]))
		return nil
	case 2, 3:
		// Mapping tables turn decoded indices into other values (palette
		// images); DICOM has its own palettes and no encoder we know of
		// writes them into DICOM, so refuse rather than return indices.
		return unsupported("LSE mapping table")
	case 4: // oversize image dimensions
		if started {
			return corrupt("LSE image dimensions after the first scan")
		}
		if len(seg) < 2 {
			return corrupt("short LSE dimensions segment")
		}
		wxy := int(seg[1])
		if wxy < 2 || wxy > 4 || len(seg) != 2+2*wxy {
			return corrupt("LSE dimensions of %d-byte values in %d bytes", wxy, len(seg))
		}
		be := func(b []byte) int {
			v := 0
			for _, c := range b {
				v = v<<8 | int(c)
			}
			return v
		}
		h, w := be(seg[2:2+wxy]), be(seg[2+wxy:])
		if h != 0 {
			pr.height = h
		}
		if w != 0 {
			pr.width = w
		}
		return nil
	case 5, 6, 7, 8, 9, 10, 12, 13:
		// ISO/IEC 14495-2 extensions (13 is its inverse colour transform);
		// CharLS refuses them too.
		return unsupported("JPEG-LS part 2 LSE parameters (type %d)", seg[0])
	}
	return corrupt("LSE segment of unknown type %d", seg[0])
}

// parseSOS reads a start of scan segment against the frame.
func parseSOS(seg []byte, pr *params) (*scan, error) {
	if len(seg) < 1 {
		return nil, corrupt("empty SOS segment")
	}
	ns := int(seg[0])
	if ns < 1 || ns > pr.ncomp || len(seg) != 1+2*ns+3 {
		return nil, corrupt("SOS with %d components in %d bytes", ns, len(seg))
	}
	sc := &scan{ns: ns, width: pr.width, height: pr.height}
	for i := 0; i < ns; i++ {
		id, tm := seg[1+2*i], seg[2+2*i]
		idx := -1
		for j := 0; j < pr.ncomp; j++ {
			if pr.ids[j] == id {
				idx = j
			}
		}
		if idx < 0 {
			return nil, corrupt("scan component %d not in the frame", id)
		}
		if pr.done[idx] {
			return nil, corrupt("component %d in two scans", id)
		}
		for j := 0; j < i; j++ {
			if sc.comps[j] == idx {
				return nil, corrupt("component %d twice in a scan", id)
			}
		}
		if tm != 0 {
			return nil, unsupported("mapping table %d on component %d", tm, id)
		}
		sc.comps[i] = idx
	}
	near := int(seg[1+2*ns])
	ilv := int(seg[2+2*ns])
	if seg[3+2*ns]&0x0F != 0 {
		return nil, unsupported("point transform %d", seg[3+2*ns]&0x0F)
	}
	switch {
	case ilv > 2:
		return nil, corrupt("interleave mode %d", ilv)
	case ns == 1 && ilv != 0:
		return nil, corrupt("single-component scan with interleave mode %d", ilv)
	case ns > 1 && ilv == 0:
		return nil, corrupt("%d components in a non-interleaved scan", ns)
	}
	sc.ilv = ilv
	maxP := 1<<uint(pr.precision) - 1
	maxval := maxP
	if pr.maxval != 0 {
		if pr.maxval > maxP {
			return nil, corrupt("LSE MAXVAL %d above %d-bit precision", pr.maxval, pr.precision)
		}
		maxval = pr.maxval
	}
	if near > min(255, maxval/2) {
		return nil, corrupt("NEAR %d for MAXVAL %d", near, maxval)
	}
	if err := sc.setup(maxval, near, pr.precision, pr); err != nil {
		return nil, err
	}
	if pr.transform != xfNone {
		if ns != 3 || pr.ncomp != 3 {
			return nil, unsupported("HP colour transform %d on a %d-component scan", pr.transform, ns)
		}
		if pr.precision != 8 && pr.precision != 16 {
			return nil, unsupported("HP colour transform %d at %d bits", pr.transform, pr.precision)
		}
		sc.transform = pr.transform
	}
	sc.restart = pr.restart
	return sc, nil
}

package jpeg

import (
	"encoding/binary"
	"fmt"

	"github.com/huren-health/huren/pixels"
)

// Shared marker-level parsing for the hand-written decoders.

type component struct {
	id     byte
	h, v   int
	tq     int // quantisation table (DCT)
	td, ta int // DC/lossless and AC Huffman tables of the current scan
}

type huffman struct {
	// fast: 9-bit lookahead -> (length<<8 | value), length 0 = slow path.
	fast    [1 << 9]uint16
	maxcode [18]int32
	valptr  [17]int32
	mincode [17]int32
	vals    []byte
	present bool
}

func buildHuffman(counts [16]byte, vals []byte) (*huffman, error) {
	h := &huffman{vals: vals, present: true}
	code := int32(0)
	k := int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		h.valptr[l] = k
		h.mincode[l] = code
		if n == 0 {
			h.maxcode[l] = -1
		} else {
			h.maxcode[l] = code + n - 1
		}
		if l <= 9 {
			for i := int32(0); i < n; i++ {
				c := code + i
				shift := uint(9 - l)
				base := c << shift
				for j := int32(0); j < 1<<shift; j++ {
					if int(base+j) < len(h.fast) {
						h.fast[base+j] = uint16(l)<<8 | uint16(vals[k+i])
					}
				}
			}
		}
		code += n
		k += n
		if code > 1<<l {
			return nil, fmt.Errorf("jpeg: invalid huffman table (code overflow at length %d): %w", l, pixels.ErrCorrupt)
		}
		code <<= 1
	}
	h.maxcode[17] = 1<<31 - 1
	return h, nil
}

// bitReader reads entropy-coded bits, unstuffing 0xFF00 and stopping at
// markers (it then feeds zeros; overrun counts them so a truncated stream
// is detected instead of looping).
type bitReader struct {
	b       []byte
	p       int
	acc     uint64
	n       uint
	overrun int
}

func (r *bitReader) fill() {
	for r.n <= 56 {
		var c byte
		if r.p < len(r.b) {
			c = r.b[r.p]
			if c == 0xFF {
				if r.p+1 < len(r.b) && r.b[r.p+1] == 0x00 {
					r.p += 2
				} else {
					c = 0
					r.overrun++
				}
			} else {
				r.p++
			}
		} else {
			r.overrun++
		}
		r.acc |= uint64(c) << (56 - r.n)
		r.n += 8
	}
}

func (r *bitReader) bits(n uint) int32 {
	if n == 0 {
		return 0
	}
	if r.n < n {
		r.fill()
	}
	v := int32(r.acc >> (64 - n))
	r.acc <<= n
	r.n -= n
	return v
}

func (r *bitReader) decode(h *huffman) (byte, error) {
	if r.n < 16 {
		r.fill()
	}
	if e := h.fast[r.acc>>(64-9)]; e != 0 {
		l := uint(e >> 8)
		r.acc <<= l
		r.n -= l
		return byte(e), nil
	}
	code := int32(0)
	for l := 1; l <= 16; l++ {
		code = code<<1 | int32(r.acc>>63)
		r.acc <<= 1
		r.n--
		if h.maxcode[l] >= 0 && code <= h.maxcode[l] {
			idx := h.valptr[l] + code - h.mincode[l]
			if int(idx) >= len(h.vals) {
				break
			}
			return h.vals[idx], nil
		}
	}
	return 0, fmt.Errorf("jpeg: bad huffman code: %w", pixels.ErrCorrupt)
}

// receiveExtend reads an s-bit magnitude category value (F.2.2.1).
func (r *bitReader) receiveExtend(s byte) int32 {
	if s == 0 {
		return 0
	}
	v := r.bits(uint(s))
	if v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v
}

// restart discards buffered bits and skips an RSTn marker at the read
// position.
func (r *bitReader) restart() error {
	r.acc, r.n = 0, 0
	// Skip fill bytes before the marker.
	for r.p+1 < len(r.b) && r.b[r.p] == 0xFF && r.b[r.p+1] == 0xFF {
		r.p++
	}
	if r.p+1 < len(r.b) && r.b[r.p] == 0xFF && r.b[r.p+1] >= 0xD0 && r.b[r.p+1] <= 0xD7 {
		r.p += 2
		r.overrun = 0
		return nil
	}
	return fmt.Errorf("jpeg: missing restart marker at %d: %w", r.p, pixels.ErrCorrupt)
}

// segment reads a marker segment's payload at p (pointing at the length).
func segment(b []byte, p int) ([]byte, int, error) {
	if p+2 > len(b) {
		return nil, p, fmt.Errorf("jpeg: truncated marker segment: %w", pixels.ErrCorrupt)
	}
	n := int(binary.BigEndian.Uint16(b[p:]))
	if n < 2 || p+n > len(b) {
		return nil, p, fmt.Errorf("jpeg: marker segment length %d: %w", n, pixels.ErrCorrupt)
	}
	return b[p+2 : p+n], p + n, nil
}

// parseDHT installs Huffman tables from a DHT payload into dc/ac.
func parseDHT(seg []byte, dc, ac *[4]*huffman) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return fmt.Errorf("jpeg: short DHT: %w", pixels.ErrCorrupt)
		}
		class, id := seg[0]>>4, seg[0]&15
		if class > 1 || id > 3 {
			return fmt.Errorf("jpeg: DHT class %d id %d: %w", class, id, pixels.ErrCorrupt)
		}
		var counts [16]byte
		copy(counts[:], seg[1:17])
		total := 0
		for _, c := range counts {
			total += int(c)
		}
		if total > 256 || len(seg) < 17+total {
			return fmt.Errorf("jpeg: DHT with %d codes: %w", total, pixels.ErrCorrupt)
		}
		h, err := buildHuffman(counts, append([]byte(nil), seg[17:17+total]...))
		if err != nil {
			return err
		}
		if class == 0 {
			dc[id] = h
		} else {
			ac[id] = h
		}
		seg = seg[17+total:]
	}
	return nil
}

// frameHeader is a parsed SOFn.
type frameHeader struct {
	precision     int
	height, width int
	comps         []component
}

func parseSOF(seg []byte) (*frameHeader, error) {
	if len(seg) < 6 {
		return nil, fmt.Errorf("jpeg: short SOF: %w", pixels.ErrCorrupt)
	}
	fh := &frameHeader{precision: int(seg[0]), height: int(binary.BigEndian.Uint16(seg[1:])), width: int(binary.BigEndian.Uint16(seg[3:]))}
	n := int(seg[5])
	if n < 1 || n > 4 || len(seg) < 6+3*n {
		return nil, fmt.Errorf("jpeg: SOF with %d components: %w", n, pixels.ErrCorrupt)
	}
	for i := 0; i < n; i++ {
		c := seg[6+3*i:]
		fh.comps = append(fh.comps, component{id: c[0], h: int(c[1] >> 4), v: int(c[1] & 15), tq: int(c[2] & 3)})
	}
	return fh, nil
}

// checkHeader compares the codestream frame with the DICOM header.
func checkHeader(fh *frameHeader, info pixels.Info) error {
	if fh.width != info.Columns || (fh.height != info.Rows && fh.height != 0) {
		return fmt.Errorf("jpeg: codestream is %d×%d, header says %d×%d: %w", fh.width, fh.height, info.Columns, info.Rows, pixels.ErrCorrupt)
	}
	if len(fh.comps) != info.SamplesPerPixel {
		return fmt.Errorf("jpeg: codestream has %d components, header says %d samples: %w", len(fh.comps), info.SamplesPerPixel, pixels.ErrCorrupt)
	}
	if fh.precision > info.BitsAllocated && info.BitsAllocated != 0 {
		return fmt.Errorf("jpeg: %d-bit codestream in %d-bit pixels: %w", fh.precision, info.BitsAllocated, pixels.ErrCorrupt)
	}
	return nil
}

package jpeg

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/huren-health/huren/pixels"
)

// Extended decodes JPEG Extended (Process 2 & 4): sequential Huffman DCT
// with 8- or 12-bit precision. 8-bit codestreams go through Baseline
// (image/jpeg); 12-bit ones through the hand-written decoder below, since
// image/jpeg refuses them. Progressive and arithmetic-coded streams are
// refused with ErrCodecUnavailable.
type Extended struct{}

var _ pixels.Decoder = Extended{}

// Decode decodes one extended-process codestream.
func (Extended) Decode(src []byte, info pixels.Info) (*pixels.Frame, error) {
	fh, err := scanSOF(src)
	if err != nil {
		return nil, err
	}
	if fh.precision == 8 {
		return Baseline{}.Decode(src, info)
	}
	return decodeDCT(src, info)
}

// scanSOF finds and parses the first SOF marker.
func scanSOF(src []byte) (*frameHeader, error) {
	if len(src) < 4 || src[0] != 0xFF || src[1] != 0xD8 {
		return nil, fmt.Errorf("jpeg: no SOI marker: %w", pixels.ErrCorrupt)
	}
	p := 2
	for p+1 < len(src) {
		if src[p] != 0xFF {
			p++
			continue
		}
		m := src[p+1]
		p += 2
		if m == 0xFF || m == 0x00 || (m >= 0xD0 && m <= 0xD8) || m == 0x01 {
			if m == 0xFF {
				p--
			}
			continue
		}
		seg, next, err := segment(src, p)
		if err != nil {
			return nil, err
		}
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			return parseSOF(seg)
		}
		if m == 0xDA || m == 0xD9 {
			break
		}
		p = next
	}
	return nil, fmt.Errorf("jpeg: no SOF marker: %w", pixels.ErrCorrupt)
}

var zigzag = [64]int{
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
}

// idctTable[x][u] = C(u)/2 · cos((2x+1)uπ/16).
var idctTable = func() (t [8][8]float64) {
	for x := 0; x < 8; x++ {
		for u := 0; u < 8; u++ {
			c := 1.0
			if u == 0 {
				c = 1 / math.Sqrt2
			}
			t[x][u] = c / 2 * math.Cos(float64(2*x+1)*float64(u)*math.Pi/16)
		}
	}
	return
}()

func idct(in *[64]float64, out *[64]float64) {
	var tmp [64]float64
	for y := 0; y < 8; y++ { // rows: along u
		for x := 0; x < 8; x++ {
			s := 0.0
			for u := 0; u < 8; u++ {
				s += idctTable[x][u] * in[y*8+u]
			}
			tmp[y*8+x] = s
		}
	}
	for x := 0; x < 8; x++ { // columns: along v
		for y := 0; y < 8; y++ {
			s := 0.0
			for v := 0; v < 8; v++ {
				s += idctTable[y][v] * tmp[v*8+x]
			}
			out[y*8+x] = s
		}
	}
}

// decodeDCT is a sequential Huffman DCT decoder (ISO 10918-1 F.2) for 8-
// and 12-bit precision, any sampling factors, restart intervals.
func decodeDCT(src []byte, info pixels.Info) (*pixels.Frame, error) {
	var (
		fh      *frameHeader
		dc, ac  [4]*huffman
		quant   [4]*[64]int32
		restart int
		planes  [][]int32
		pw, ph  []int // plane sizes (padded to blocks)
		hmax    int
		vmax    int
		scans   int
	)
	p := 2
	for p < len(src) {
		if src[p] != 0xFF {
			p++
			continue
		}
		if p+1 >= len(src) {
			break
		}
		m := src[p+1]
		p += 2
		switch {
		case m == 0xFF || m == 0x00:
			p--
			continue
		case m == 0xD9:
			p = len(src)
			continue
		case m >= 0xD0 && m <= 0xD7, m == 0x01:
			continue
		}
		seg, next, err := segment(src, p)
		if err != nil {
			return nil, err
		}
		p = next
		switch m {
		case 0xC0, 0xC1:
			if fh != nil {
				return nil, fmt.Errorf("jpeg: second SOF: %w", pixels.ErrCorrupt)
			}
			if fh, err = parseSOF(seg); err != nil {
				return nil, err
			}
			if fh.precision != 8 && fh.precision != 12 {
				return nil, fmt.Errorf("jpeg: DCT precision %d: %w", fh.precision, pixels.ErrCorrupt)
			}
			if fh.height == 0 {
				fh.height = info.Rows
			}
			if err := checkHeader(fh, info); err != nil {
				return nil, err
			}
			if fh.height != info.Rows {
				return nil, fmt.Errorf("jpeg: codestream height %d, header %d: %w", fh.height, info.Rows, pixels.ErrCorrupt)
			}
			for _, c := range fh.comps {
				if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 {
					return nil, fmt.Errorf("jpeg: sampling factors %d×%d: %w", c.h, c.v, pixels.ErrCorrupt)
				}
				hmax, vmax = max(hmax, c.h), max(vmax, c.v)
			}
			mcux := (fh.width + 8*hmax - 1) / (8 * hmax)
			mcuy := (fh.height + 8*vmax - 1) / (8 * vmax)
			for _, c := range fh.comps {
				w, h := mcux*c.h*8, mcuy*c.v*8
				pw, ph = append(pw, w), append(ph, h)
				planes = append(planes, make([]int32, w*h))
			}
		case 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF:
			return nil, fmt.Errorf("jpeg: SOF%d (progressive, lossless, hierarchical or arithmetic) in a DCT sequential syntax: %w", m-0xC0, pixels.ErrCodecUnavailable)
		case 0xC4:
			if err := parseDHT(seg, &dc, &ac); err != nil {
				return nil, err
			}
		case 0xDB:
			for len(seg) > 0 {
				pq, tq := seg[0]>>4, seg[0]&15
				n := 65
				if pq == 1 {
					n = 129
				}
				if tq > 3 || pq > 1 || len(seg) < n {
					return nil, fmt.Errorf("jpeg: bad DQT: %w", pixels.ErrCorrupt)
				}
				q := new([64]int32)
				for k := 0; k < 64; k++ {
					if pq == 1 {
						q[k] = int32(binary.BigEndian.Uint16(seg[1+2*k:]))
					} else {
						q[k] = int32(seg[1+k])
					}
				}
				quant[tq] = q
				seg = seg[n:]
			}
		case 0xDD:
			if len(seg) < 2 {
				return nil, fmt.Errorf("jpeg: short DRI: %w", pixels.ErrCorrupt)
			}
			restart = int(binary.BigEndian.Uint16(seg))
		case 0xDA:
			if fh == nil {
				return nil, fmt.Errorf("jpeg: SOS before SOF: %w", pixels.ErrCorrupt)
			}
			if scans++; scans > 4 {
				return nil, fmt.Errorf("jpeg: more scans than components: %w", pixels.ErrCorrupt)
			}
			n, err := dctScan(src[p:], seg, fh, &dc, &ac, &quant, restart, planes, pw, hmax, vmax)
			if err != nil {
				return nil, err
			}
			p += n
		}
	}
	if fh == nil || scans == 0 {
		return nil, fmt.Errorf("jpeg: no frame or scan: %w", pixels.ErrCorrupt)
	}
	photo := info.Photometric
	ybr := len(fh.comps) == 3 && strings.HasPrefix(photo, "YBR")
	if ybr {
		photo = "RGB"
	}
	f := pixels.NewFrame(info, photo)
	nc := len(fh.comps)
	w, h := fh.width, fh.height
	center := float64(int(1) << uint(fh.precision-1))
	maxv := float64(int(1)<<uint(fh.precision) - 1)
	var px [4]int32
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c, comp := range fh.comps {
				sx, sy := x*comp.h/hmax, y*comp.v/vmax
				px[c] = planes[c][sy*pw[c]+sx]
			}
			if ybr {
				yy, cb, cr := float64(px[0]), float64(px[1])-center, float64(px[2])-center
				px[0] = int32(math.Max(0, math.Min(maxv, math.Round(yy+1.402*cr))))
				px[1] = int32(math.Max(0, math.Min(maxv, math.Round(yy-0.344136*cb-0.714136*cr))))
				px[2] = int32(math.Max(0, math.Min(maxv, math.Round(yy+1.772*cb))))
			}
			for c := 0; c < nc; c++ {
				i := (y*w+x)*nc + c
				switch f.BitsAllocated {
				case 8:
					f.Data[i] = byte(px[c])
				case 16:
					binary.LittleEndian.PutUint16(f.Data[2*i:], uint16(px[c]))
				default:
					binary.LittleEndian.PutUint32(f.Data[4*i:], uint32(px[c]))
				}
			}
		}
	}
	return f, nil
}

func dctScan(data, sos []byte, fh *frameHeader, dc, ac *[4]*huffman, quant *[4]*[64]int32, restart int, planes [][]int32, pw []int, hmax, vmax int) (int, error) {
	if len(sos) < 1 {
		return 0, fmt.Errorf("jpeg: short SOS: %w", pixels.ErrCorrupt)
	}
	ns := int(sos[0])
	if ns < 1 || ns > len(fh.comps) || len(sos) < 1+2*ns+3 {
		return 0, fmt.Errorf("jpeg: SOS with %d components: %w", ns, pixels.ErrCorrupt)
	}
	idx := make([]int, ns)
	for i := 0; i < ns; i++ {
		cid, t := sos[1+2*i], sos[2+2*i]
		idx[i] = -1
		for j, c := range fh.comps {
			if c.id == cid {
				idx[i] = j
			}
		}
		td, ta := int(t>>4), int(t&15)
		if idx[i] < 0 || td > 3 || ta > 3 || dc[td] == nil || ac[ta] == nil || quant[fh.comps[idx[i]].tq] == nil {
			return 0, fmt.Errorf("jpeg: scan component %d has undefined tables: %w", cid, pixels.ErrCorrupt)
		}
		fh.comps[idx[i]].td, fh.comps[idx[i]].ta = td, ta
	}
	// Blocks per MCU and MCU counts.
	var mcux, mcuy int
	if ns == 1 {
		c := fh.comps[idx[0]]
		cw := (fh.width*c.h + hmax - 1) / hmax
		chh := (fh.height*c.v + vmax - 1) / vmax
		mcux, mcuy = (cw+7)/8, (chh+7)/8
	} else {
		mcux = (fh.width + 8*hmax - 1) / (8 * hmax)
		mcuy = (fh.height + 8*vmax - 1) / (8 * vmax)
	}
	center := float64(int(1) << uint(fh.precision-1))
	maxv := float64(int(1)<<uint(fh.precision) - 1)
	r := &bitReader{b: data}
	var preds [4]int32
	var coef, out [64]float64
	block := func(ci, bx, by int) error {
		c := &fh.comps[ci]
		q := quant[c.tq]
		for i := range coef {
			coef[i] = 0
		}
		t, err := r.decode(dc[c.td])
		if err != nil {
			return err
		}
		if t > 16 {
			return fmt.Errorf("jpeg: DC category %d: %w", t, pixels.ErrCorrupt)
		}
		preds[ci] += r.receiveExtend(t)
		coef[0] = float64(preds[ci] * q[0])
		for k := 1; k < 64; {
			rs, err := r.decode(ac[c.ta])
			if err != nil {
				return err
			}
			run, s := int(rs>>4), rs&15
			if s == 0 {
				if run != 15 {
					break
				}
				k += 16
				continue
			}
			k += run
			if k > 63 {
				return fmt.Errorf("jpeg: AC run past the block: %w", pixels.ErrCorrupt)
			}
			coef[zigzag[k]] = float64(r.receiveExtend(s) * q[k])
			k++
		}
		idct(&coef, &out)
		pl, stride := planes[ci], pw[ci]
		x0, y0 := bx*8, by*8
		if (y0+7)*stride+x0+7 >= len(pl) {
			return nil // block outside the padded plane (non-interleaved edge)
		}
		for y := 0; y < 8; y++ {
			for x := 0; x < 8; x++ {
				pl[(y0+y)*stride+x0+x] = int32(math.Max(0, math.Min(maxv, math.Round(out[y*8+x]+center))))
			}
		}
		return nil
	}
	mcus := 0
	for my := 0; my < mcuy; my++ {
		for mx := 0; mx < mcux; mx++ {
			if restart > 0 && mcus > 0 && mcus%restart == 0 {
				if err := r.restart(); err != nil {
					return 0, err
				}
				preds = [4]int32{}
			}
			mcus++
			if ns == 1 {
				if err := block(idx[0], mx, my); err != nil {
					return 0, err
				}
			} else {
				for _, ci := range idx {
					c := fh.comps[ci]
					for v := 0; v < c.v; v++ {
						for h := 0; h < c.h; h++ {
							if err := block(ci, mx*c.h+h, my*c.v+v); err != nil {
								return 0, err
							}
						}
					}
				}
			}
			if r.overrun > 8 {
				return 0, fmt.Errorf("jpeg: entropy-coded data ends early: %w", pixels.ErrCorrupt)
			}
		}
	}
	p := r.p
	for p+1 < len(data) && !(data[p] == 0xFF && data[p+1] != 0 && (data[p+1] < 0xD0 || data[p+1] > 0xD7)) {
		p++
	}
	return p, nil
}

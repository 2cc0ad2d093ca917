package jpegls

import (
	"encoding/binary"

	"github.com/huren-health/huren/pixels"
)

// output writes decoded lines into Frame.Data: samples interleaved per
// pixel, little endian, in the dataset's Bits Allocated (8 or 16).
type output struct {
	data  []byte
	w, nc int
	wide  bool    // 16-bit samples
	rgb   []int32 // one line of 3 components, for the HP colour transforms
	rng   int     // 2^P, the modulus of the HP transforms
}

// newOutput checks the codestream's frame against the DICOM header and
// allocates the frame from the header's geometry (which pixels.Parse has
// bounded by Limits), never from codestream fields alone.
func newOutput(pr *params, info pixels.Info) (*pixels.Frame, *output, error) {
	if pr.height == 0 {
		pr.height = info.Rows // height defined by DNL (C.2.2): the header knows it
	}
	if pr.width != info.Columns || pr.height != info.Rows || pr.ncomp != info.SamplesPerPixel {
		return nil, nil, corrupt("codestream is %d×%d×%d, header says %d×%d×%d", pr.width, pr.height, pr.ncomp, info.Columns, info.Rows, info.SamplesPerPixel)
	}
	if pr.precision > info.BitsAllocated {
		return nil, nil, corrupt("%d-bit samples in %d-bit pixels", pr.precision, info.BitsAllocated)
	}
	photometric := info.Photometric
	if pr.transform != xfNone {
		photometric = "RGB" // the inverse HP transform yields RGB
	}
	f := pixels.NewFrame(info, photometric)
	o := &output{data: f.Data, w: pr.width, nc: pr.ncomp, wide: info.BitsAllocated == 16, rng: 1 << uint(pr.precision)}
	if pr.transform != xfNone {
		o.rgb = make([]int32, 3*pr.width)
	}
	return f, o, nil
}

// put writes line y of scan s; lines[i][1] is the current line of scan
// component i (one line holding every component for sample interleave).
func (o *output) put(s *scan, y int, lines [][2][]int32) {
	w, ns := s.width, s.ns
	if s.transform != xfNone {
		// Gather v1, v2, v3 in frame component order, then invert.
		for i := 0; i < ns; i++ {
			c := s.comps[i]
			if s.ilv == 2 {
				src := lines[0][1][ns : (w+1)*ns]
				for x := 0; x < w; x++ {
					o.rgb[3*x+c] = src[x*ns+i]
				}
			} else {
				src := lines[i][1][1 : w+1]
				for x, v := range src {
					o.rgb[3*x+c] = v
				}
			}
		}
		o.inverseHP(s.transform)
		for c := 0; c < 3; c++ {
			o.plane(c, y, o.rgb[c:], 3)
		}
		return
	}
	if s.ilv == 2 {
		l := lines[0][1][ns : (w+1)*ns]
		for i := 0; i < ns; i++ {
			o.plane(s.comps[i], y, l[i:], ns)
		}
		return
	}
	for i := range lines {
		o.plane(s.comps[i], y, lines[i][1][1:w+1], 1)
	}
}

// plane writes component c of line y from src[0], src[stride], ...
func (o *output) plane(c, y int, src []int32, stride int) {
	w, nc := o.w, o.nc
	if o.wide {
		row := o.data[2*(y*w*nc+c):]
		if nc == 1 && stride == 1 {
			row = row[:2*w]
			for x, v := range src[:w] {
				binary.LittleEndian.PutUint16(row[2*x:], uint16(v))
			}
			return
		}
		for x := 0; x < w; x++ {
			binary.LittleEndian.PutUint16(row[2*x*nc:], uint16(src[x*stride]))
		}
		return
	}
	row := o.data[y*w*nc+c:]
	for x := 0; x < w; x++ {
		row[x*nc] = byte(src[x*stride])
	}
}

// inverseHP undoes HP colour transform t on o.rgb in place, exactly as
// CharLS (modulo 2^P for P = 8 or 16; HP2 averages the reduced R and G).
func (o *output) inverseHP(t int) {
	r := int32(o.rng)
	mask, half, quarter := r-1, r/2, r/4
	px := o.rgb
	for i := 0; i+2 < len(px); i += 3 {
		v1, v2, v3 := px[i], px[i+1], px[i+2]
		switch t {
		case xfHP1:
			px[i] = (v1 + v2 - half) & mask
			px[i+2] = (v3 + v2 - half) & mask
		case xfHP2:
			rr := (v1 + v2 - half) & mask
			px[i] = rr
			px[i+2] = (v3 + (rr+v2)>>1 - half) & mask
		case xfHP3:
			g := v1 - (v3+v2)>>2 + quarter
			px[i] = (v3 + g - half) & mask
			px[i+1] = g & mask
			px[i+2] = (v2 + g - half) & mask
		}
	}
}

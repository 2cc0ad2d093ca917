package jpeg

import (
	"encoding/binary"
	"fmt"

	"github.com/huren-health/huren/pixels"
)

// Lossless decodes JPEG Lossless Process 14 (and SV1) frames.
type Lossless struct{}

var _ pixels.Decoder = Lossless{}

// Decode decodes one lossless JPEG codestream into Frame layout.
func (Lossless) Decode(src []byte, info pixels.Info) (*pixels.Frame, error) {
	if len(src) < 4 || src[0] != 0xFF || src[1] != 0xD8 {
		return nil, fmt.Errorf("jpeg lossless: no SOI marker: %w", pixels.ErrCorrupt)
	}
	var (
		fh       *frameHeader
		dc, ac   [4]*huffman
		restart  int
		planes   [][]int32
		scanned  int
		frame    *pixels.Frame
		maxScans = 16
	)
	p := 2
	for p < len(src) {
		if src[p] != 0xFF {
			p++ // tolerate garbage between segments, as libjpeg does
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
		case m == 0xD9: // EOI
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
		case 0xC3, 0xC7, 0xCB, 0xCF:
			if m != 0xC3 {
				return nil, fmt.Errorf("jpeg lossless: SOF%d (hierarchical/arithmetic) not supported: %w", m-0xC0, pixels.ErrUnsupportedSyntax)
			}
			if fh != nil {
				return nil, fmt.Errorf("jpeg lossless: second SOF: %w", pixels.ErrCorrupt)
			}
			fh, err = parseSOF(seg)
			if err != nil {
				return nil, err
			}
			if fh.precision < 2 || fh.precision > 16 {
				return nil, fmt.Errorf("jpeg lossless: precision %d: %w", fh.precision, pixels.ErrCorrupt)
			}
			if err := checkHeader(fh, info); err != nil {
				return nil, err
			}
			for _, c := range fh.comps {
				if c.h != 1 || c.v != 1 {
					return nil, fmt.Errorf("jpeg lossless: subsampled component (%d×%d): %w", c.h, c.v, pixels.ErrCorrupt)
				}
			}
			fh.height = info.Rows // DNL-less streams with height 0 use the header's
			// Every sample costs at least one Huffman bit: a stream with
			// fewer bits than samples cannot be this image, so refuse it
			// before allocating from the header's geometry.
			if samples := int64(info.Rows) * int64(info.Columns) * int64(len(fh.comps)); int64(len(src))*8 < samples {
				return nil, fmt.Errorf("jpeg lossless: %d bytes cannot hold %d samples: %w", len(src), samples, pixels.ErrCorrupt)
			}
			frame = pixels.NewFrame(info, info.Photometric)
			planes = make([][]int32, len(fh.comps))
			for i := range planes {
				planes[i] = make([]int32, info.Rows*info.Columns)
			}
		case 0xC0, 0xC1, 0xC2, 0xC5, 0xC6, 0xC9, 0xCA, 0xCD, 0xCE:
			return nil, fmt.Errorf("jpeg lossless: DCT frame (SOF%d) in a lossless syntax: %w", m-0xC0, pixels.ErrCorrupt)
		case 0xC4:
			if err := parseDHT(seg, &dc, &ac); err != nil {
				return nil, err
			}
		case 0xDD:
			if len(seg) < 2 {
				return nil, fmt.Errorf("jpeg lossless: short DRI: %w", pixels.ErrCorrupt)
			}
			restart = int(binary.BigEndian.Uint16(seg))
		case 0xDA:
			if fh == nil {
				return nil, fmt.Errorf("jpeg lossless: SOS before SOF: %w", pixels.ErrCorrupt)
			}
			if scanned++; scanned > maxScans {
				return nil, fmt.Errorf("jpeg lossless: more than %d scans: %w", maxScans, pixels.ErrCorrupt)
			}
			n, err := decodeLosslessScan(src[p:], seg, fh, &dc, restart, planes)
			if err != nil {
				return nil, err
			}
			p += n
		}
	}
	if frame == nil || scanned == 0 {
		return nil, fmt.Errorf("jpeg lossless: no frame or scan: %w", pixels.ErrCorrupt)
	}
	// Interleave components into the frame, little endian.
	nc := len(planes)
	px := info.Rows * info.Columns
	switch frame.BitsAllocated {
	case 8:
		for c, pl := range planes {
			for i := 0; i < px; i++ {
				frame.Data[i*nc+c] = byte(pl[i])
			}
		}
	case 16:
		for c, pl := range planes {
			for i := 0; i < px; i++ {
				binary.LittleEndian.PutUint16(frame.Data[(i*nc+c)*2:], uint16(pl[i]))
			}
		}
	case 32:
		for c, pl := range planes {
			for i := 0; i < px; i++ {
				binary.LittleEndian.PutUint32(frame.Data[(i*nc+c)*4:], uint32(pl[i]))
			}
		}
	}
	return frame, nil
}

// decodeLosslessScan decodes one scan whose entropy-coded data starts at
// data[0]; it returns the number of bytes consumed.
func decodeLosslessScan(data, sos []byte, fh *frameHeader, dc *[4]*huffman, restart int, planes [][]int32) (int, error) {
	if len(sos) < 1 {
		return 0, fmt.Errorf("jpeg lossless: short SOS: %w", pixels.ErrCorrupt)
	}
	ns := int(sos[0])
	if ns < 1 || ns > len(fh.comps) || len(sos) < 1+2*ns+3 {
		return 0, fmt.Errorf("jpeg lossless: SOS with %d components: %w", ns, pixels.ErrCorrupt)
	}
	idx := make([]int, ns)
	tabs := make([]*huffman, ns)
	for i := 0; i < ns; i++ {
		cid, td := sos[1+2*i], int(sos[2+2*i]>>4)
		idx[i] = -1
		for j, c := range fh.comps {
			if c.id == cid {
				idx[i] = j
			}
		}
		if idx[i] < 0 || td > 3 || dc[td] == nil {
			return 0, fmt.Errorf("jpeg lossless: scan component %d / table %d undefined: %w", cid, td, pixels.ErrCorrupt)
		}
		tabs[i] = dc[td]
	}
	pred := int(sos[1+2*ns])
	pt := uint(sos[3+2*ns] & 15)
	if pred < 1 || pred > 7 {
		return 0, fmt.Errorf("jpeg lossless: predictor %d: %w", pred, pixels.ErrCorrupt)
	}
	if int(pt) >= fh.precision {
		return 0, fmt.Errorf("jpeg lossless: point transform %d: %w", pt, pixels.ErrCorrupt)
	}
	w, h := fh.width, fh.height
	mask := int32(1)<<uint(fh.precision) - 1
	init := int32(1) << uint(fh.precision-int(pt)-1)
	r := &bitReader{b: data}
	mcus := 0
	firstRow := true // first line of the scan or of a restart interval
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if restart > 0 && mcus > 0 && mcus%restart == 0 {
				if err := r.restart(); err != nil {
					return 0, err
				}
				firstRow = true
			}
			restartStart := restart > 0 && mcus%restart == 0
			for i, ci := range idx {
				pl := planes[ci]
				o := y*w + x
				var pv int32
				switch {
				case restartStart || (firstRow && x == 0 && y == 0):
					pv = init
				case firstRow && x > 0:
					pv = pl[o-1]
				case x == 0:
					pv = pl[o-w]
				default:
					ra, rb, rc := pl[o-1], pl[o-w], pl[o-w-1]
					switch pred {
					case 1:
						pv = ra
					case 2:
						pv = rb
					case 3:
						pv = rc
					case 4:
						pv = ra + rb - rc
					case 5:
						pv = ra + (rb-rc)>>1
					case 6:
						pv = rb + (ra-rc)>>1
					case 7:
						pv = (ra + rb) >> 1
					}
				}
				s, err := r.decode(tabs[i])
				if err != nil {
					return 0, err
				}
				var diff int32
				switch {
				case s == 0:
				case s == 16:
					diff = 32768
				case s > 16:
					return 0, fmt.Errorf("jpeg lossless: difference category %d: %w", s, pixels.ErrCorrupt)
				default:
					diff = r.receiveExtend(s)
				}
				pl[o] = (pv + diff) & (mask >> pt)
			}
			mcus++
			if r.overrun > 8 {
				return 0, fmt.Errorf("jpeg lossless: entropy-coded data ends at row %d of %d: %w", y, h, pixels.ErrCorrupt)
			}
		}
		firstRow = false
	}
	if pt > 0 {
		for _, ci := range idx {
			for i := range planes[ci] {
				planes[ci][i] <<= pt
			}
		}
	}
	// Advance past the entropy-coded data: the reader may have prefetched
	// up to 8 bytes; find the next marker from its position.
	p := r.p
	for p+1 < len(data) && !(data[p] == 0xFF && data[p+1] != 0 && (data[p+1] < 0xD0 || data[p+1] > 0xD7)) {
		p++
	}
	return p, nil
}

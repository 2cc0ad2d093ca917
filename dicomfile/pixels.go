package dicomfile

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/huren-health/huren/dicomjson"
)

// pixelScan is what the walker records about the top-level Pixel Data.
type pixelScan struct {
	offset, length int64 // value bytes (for encapsulated: items through the delimiter)
	vr             string
	encapsulated   bool
	bot            []uint32 // Basic Offset Table entries
	frags          []fragment
}

// fragment is one encapsulated item after the Basic Offset Table.
type fragment struct {
	itemOffset int64   // offset of the item tag
	offset     int64   // offset of the fragment bytes
	length     int64   // fragment byte length
	head       [4]byte // first bytes, for codec start-marker detection
	headLen    int
}

// readEncapsulated walks the items of an undefined-length Pixel Data value
// (PS3.5 A.4), recording fragment positions without reading fragment bytes
// beyond their first four (for start-marker detection).
func (p *parser) readEncapsulated(h elemHeader, path string, top bool) (elem *dicomjson.Element, err error) {
	r := p.r
	scan := &pixelScan{offset: h.valueOffset, vr: h.vr, encapsulated: true}
	what := elemAt("", 0x7FE0, 0x0010)
	for i := 0; ; i++ {
		if err := r.charge(); err != nil {
			return nil, err
		}
		b, err := r.small(8, what)
		if err != nil {
			return nil, err
		}
		g, e, l := h.bo.Uint16(b[0:2]), h.bo.Uint16(b[2:4]), h.bo.Uint32(b[4:8])
		if g == 0xFFFE && e == 0xE0DD {
			break
		}
		if g != 0xFFFE || e != 0xE000 {
			return nil, fmt.Errorf("%w: encapsulated Pixel Data (7FE0,0010): expected an Item at byte %d but found %s; the compressed image is corrupt",
				ErrMalformed, r.pos-8, tagName(g, e))
		}
		if l == undefinedLength {
			return nil, fmt.Errorf("%w: encapsulated Pixel Data (7FE0,0010): fragment at byte %d has undefined length", ErrMalformed, r.pos-8)
		}
		if i == 0 {
			// Basic Offset Table.
			if l%4 != 0 {
				return nil, fmt.Errorf("%w: Basic Offset Table at byte %d has length %d, not a multiple of 4", ErrMalformed, r.pos-8, l)
			}
			val, err := r.read(int64(l), at("the Basic Offset Table of Pixel Data"))
			if err != nil {
				return nil, err
			}
			scan.bot = make([]uint32, 0, len(val)/4)
			for k := 0; k+4 <= len(val); k += 4 {
				scan.bot = append(scan.bot, binary.LittleEndian.Uint32(val[k:]))
			}
			continue
		}
		f := fragment{itemOffset: r.pos - 8, offset: r.pos, length: int64(l)}
		f.headLen = copy(f.head[:], r.peek(min(4, int(l))))
		if err := r.skip(int64(l), what); err != nil {
			return nil, err
		}
		scan.frags = append(scan.frags, f)
	}
	scan.length = r.pos - scan.offset
	p.f.Bulk = append(p.f.Bulk, BulkRef{TagPath: path, VR: h.vr, Offset: scan.offset, Length: scan.length, Encapsulated: true})
	if top && p.pix == nil {
		p.pix = scan
	}
	return &dicomjson.Element{VR: h.vr, BulkDataURI: path}, nil
}

// intAttr reads the first value of an integer attribute of the top dataset.
func (p *parser) intAttr(key string) (int, bool) {
	e := p.f.Dataset[key]
	if e == nil || len(e.Value) == 0 {
		return 0, false
	}
	switch v := e.Value[0].(type) {
	case int64:
		return int(v), true
	case float64:
		return int(v), true
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}

// pixelInfo computes the frame layout from the image attributes and what the
// walker saw. Problems go into FramesErr rather than failing the parse, so
// that a file with broken pixel geometry can still be indexed when a caller
// wants that; Validate reports them.
func (p *parser) pixelInfo() *PixelInfo {
	s := p.pix
	pi := &PixelInfo{Encapsulated: s.encapsulated, BigEndian: p.bo == binary.BigEndian && !p.f.Deflated && p.f.TransferSyntax == TSExplicitBig}
	pi.Rows, _ = p.intAttr("00280010")
	pi.Columns, _ = p.intAttr("00280011")
	pi.SamplesPerPixel, _ = p.intAttr("00280002")
	pi.BitsAllocated, _ = p.intAttr("00280100")
	pi.BitsStored, _ = p.intAttr("00280101")
	pi.HighBit, _ = p.intAttr("00280102")
	pi.PixelRepresentation, _ = p.intAttr("00280103")
	pi.PlanarConfiguration, _ = p.intAttr("00280006")
	pi.PhotometricInterpretation = p.f.Dataset.String("00280004")
	nf, ok := p.intAttr("00280008")
	if e := p.f.Dataset["00280008"]; !ok && e != nil && len(e.Value) > 0 && e.Value[0] != nil {
		pi.NumberOfFrames = 1
		pi.FramesErr = fmt.Errorf("%w: Number of Frames (0028,0008) is %q, not a number", ErrBadPixelData, e.Value[0])
		return pi
	}
	if !ok || nf == 0 {
		nf = 1
	}
	pi.NumberOfFrames = nf
	if pi.SamplesPerPixel == 0 {
		pi.SamplesPerPixel = 1
	}
	if nf < 0 {
		pi.FramesErr = fmt.Errorf("%w: Number of Frames (0028,0008) is %d", ErrBadPixelData, nf)
		return pi
	}
	if s.encapsulated {
		pi.Frames, pi.FramesErr = p.encapsulatedFrames(s, nf)
		return pi
	}
	pi.Frames, pi.FrameBitOffset, pi.FrameLength, pi.FramesErr = nativeFrames(pi, s)
	return pi
}

func nativeFrames(pi *PixelInfo, s *pixelScan) ([][]ByteRange, []int, int64, error) {
	if pi.Rows <= 0 || pi.Columns <= 0 || pi.BitsAllocated <= 0 {
		return nil, nil, 0, fmt.Errorf("%w: Pixel Data is present but Rows (0028,0010), Columns (0028,0011) or Bits Allocated (0028,0100) is missing or zero; the image cannot be displayed",
			ErrBadPixelData)
	}
	if pi.BitsAllocated != 1 && pi.BitsAllocated%8 != 0 || pi.BitsAllocated > 64 {
		return nil, nil, 0, fmt.Errorf("%w: Bits Allocated (0028,0100) is %d; only 1 or a multiple of 8 is valid", ErrBadPixelData, pi.BitsAllocated)
	}
	if pi.SamplesPerPixel > 4 {
		return nil, nil, 0, fmt.Errorf("%w: Samples per Pixel (0028,0002) is %d", ErrBadPixelData, pi.SamplesPerPixel)
	}
	nf := int64(pi.NumberOfFrames)
	pixels := int64(pi.Rows) * int64(pi.Columns)
	samples := int64(pi.SamplesPerPixel)
	if pi.PhotometricInterpretation == "YBR_FULL_422" && samples == 3 {
		samples = 2 // chroma subsampled horizontally: 2 samples per pixel on average
	}
	frameBits := pixels * samples * int64(pi.BitsAllocated)
	// nf comes from an untrusted IS value: compare by division first so that
	// frameBits*nf cannot overflow (and no slice is sized from it).
	if nf > s.length*8/frameBits+1 {
		return nil, nil, 0, fmt.Errorf("%w: Pixel Data (7FE0,0010) has %d bytes, too few for Number of Frames (0028,0008) %d of %d×%d pixels",
			ErrBadPixelData, s.length, nf, pi.Rows, pi.Columns)
	}
	needBytes := (frameBits*nf + 7) / 8
	if s.length < needBytes {
		return nil, nil, 0, fmt.Errorf("%w: Pixel Data (7FE0,0010) has %d bytes but %d×%d pixels × %d samples × %d bits × %d frames need %d: the image is corrupt or the file was cut off",
			ErrBadPixelData, s.length, pi.Rows, pi.Columns, pi.SamplesPerPixel, pi.BitsAllocated, nf, needBytes)
	}
	frames := make([][]ByteRange, nf)
	if frameBits%8 == 0 {
		fl := frameBits / 8
		for i := range frames {
			frames[i] = []ByteRange{{Offset: s.offset + int64(i)*fl, Length: fl}}
		}
		return frames, nil, fl, nil
	}
	// BitsAllocated 1 with a frame size that is not a whole number of bytes.
	bitOff := make([]int, nf)
	for i := range frames {
		startBit := int64(i) * frameBits
		endBit := startBit + frameBits
		first, last := startBit/8, (endBit+7)/8
		frames[i] = []ByteRange{{Offset: s.offset + first, Length: last - first}}
		bitOff[i] = int(startBit % 8)
	}
	return frames, bitOff, 0, nil
}

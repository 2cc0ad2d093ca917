package pixels

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Image is a parsed DICOM file: the image description, display attributes
// and the (still encoded) bytes of each frame. Its slices alias the input
// given to Parse, which must not be modified afterwards.
type Image struct {
	Info
	Display Display
	// PerFrame holds display attributes from the Per-frame Functional
	// Groups (enhanced multi-frame), indexed by frame-1; nil when absent.
	PerFrame []Display
	// SOPInstanceUID, for messages.
	SOPInstanceUID string
	// Truncated: the Pixel Data ends before its declared length or its
	// sequence delimiter (the file was cut). Frames wholly present still
	// decode; a frame whose bytes were cut fails with ErrCorrupt.
	Truncated bool

	lastFrameCut bool
	// headerOnly: from ParseHeader; the pixels were not read, the first
	// frame's value starts at pixelOffset in the file.
	headerOnly  bool
	pixelOffset int64

	bigEndian    bool
	encapsulated bool
	native       []byte     // native Pixel Data value
	frames       [][][]byte // encapsulated: fragments of each frame
}

// Window is one VOI window (PS3.3 C.11.2.1.2).
type Window struct {
	Center, Width float64
}

// LUT is a Modality, VOI or palette lookup table (PS3.3 C.11.1).
type LUT struct {
	// FirstMapped is the first stored (input) value mapped.
	FirstMapped int
	// Bits is the declared output bit depth (8 or 16, up to 16).
	Bits int
	Data []uint16
}

// Lookup maps v through the LUT, clamping outside the table.
func (l *LUT) Lookup(v int) uint16 {
	i := v - l.FirstMapped
	if i < 0 {
		i = 0
	}
	if i >= len(l.Data) {
		i = len(l.Data) - 1
	}
	return l.Data[i]
}

// Display holds the attributes of the display pipeline (Modality LUT, VOI,
// palette) that pixels/render consumes.
type Display struct {
	RescaleSlope, RescaleIntercept float64
	ModalityLUT                    *LUT
	Windows                        []Window
	VOIFunction                    string // LINEAR (default), LINEAR_EXACT, SIGMOID
	VOILUT                         *LUT
	Palette                        [3]*LUT // PALETTE COLOR red, green, blue
}

// Parse walks a DICOM file (PS3.10 with or without preamble/File Meta, or a
// bare dataset) held in b and returns its image. It never panics; errors
// match ErrNotDICOM, ErrNoPixelData, ErrCorrupt or ErrTooLarge.
func Parse(b []byte, lim Limits) (*Image, error) {
	return parse(b, lim, -1)
}

// ParseHeader parses a file of total bytes from prefix, its first bytes,
// without needing the Pixel Data value in memory: a caller rendering a
// large native image reads the header, then streams the frame it wants
// from storage (NativeFrameRange) instead of holding the file and a copy of
// its pixels. It succeeds only for native little endian (not deflated)
// datasets whose defined-length Pixel Data holds every frame within total
// bytes and whose frames start on a byte boundary. It fails with
// ErrNeedMore when prefix ends before Pixel Data (retry with more bytes)
// and ErrNotStreamable for anything else, including every kind of bad
// input: Parse on the whole file is the authority for those (and their
// errors). The returned Image does not alias prefix; its RawFrame and
// DecodeFrame fail with ErrNotStreamable.
func ParseHeader(prefix []byte, total int64, lim Limits) (*Image, error) {
	if total < int64(len(prefix)) {
		return nil, fmt.Errorf("prefix of %d bytes longer than the file's %d: %w", len(prefix), total, ErrNotStreamable)
	}
	img, err := parse(prefix, lim, total)
	if err != nil {
		if errors.Is(err, ErrNeedMore) || errors.Is(err, ErrNotStreamable) {
			return nil, err
		}
		if int64(len(prefix)) < total && img == nil {
			return nil, fmt.Errorf("%v: %w", err, ErrNeedMore)
		}
		return nil, fmt.Errorf("%v: %w", err, ErrNotStreamable)
	}
	return img, nil
}

// NativeFrameRange is where 1-based frame n lies in the file, for an Image
// from ParseHeader: length bytes at offset, in Frame.Data layout
// (little endian, samples interleaved unless PlanarConfiguration is 1).
func (img *Image) NativeFrameRange(n int) (offset, length int64, err error) {
	if !img.headerOnly {
		return 0, 0, fmt.Errorf("image was parsed whole: %w", ErrNotStreamable)
	}
	if n < 1 || n > img.Frames {
		return 0, 0, fmt.Errorf("frame %d of %d: %w", n, img.Frames, ErrFrameRange)
	}
	size := nativeBytes(Info{Rows: img.Rows, Columns: img.Columns, Frames: 1, SamplesPerPixel: img.SamplesPerPixel, BitsAllocated: img.BitsAllocated, Photometric: img.Photometric})
	return img.pixelOffset + size*int64(n-1), size, nil
}

// parse walks b. total < 0: b is the whole file. total >= 0: b is the
// first bytes of a file of total bytes and only the header is wanted
// (ParseHeader).
func parse(b []byte, lim Limits, total int64) (img *Image, err error) {
	headerOnly := total >= 0
	defer func() {
		if r := recover(); r != nil { // defensive: the walker is fuzzed, but never take the server down
			img, err = nil, fmt.Errorf("parse panic %v: %w", r, ErrCorrupt)
		}
	}()
	lim = lim.withDefaults()
	p := 0
	if len(b) >= 132 && string(b[128:132]) == "DICM" {
		p = 132
	} else if len(b) >= 4 && string(b[0:4]) == "DICM" {
		p = 4
	}
	ts := ""
	// File Meta (group 0002), always explicit VR little endian.
	if len(b) >= p+8 && binary.LittleEndian.Uint16(b[p:]) == 0x0002 {
		mw := &walker{b: b, explicit: validVR(b[p+4 : p+6])}
		for p+8 <= len(b) && binary.LittleEndian.Uint16(b[p:]) == 0x0002 {
			tag, _, length, hl, err := mw.header(p, len(b))
			if err != nil {
				return nil, fmt.Errorf("file meta: %w", err)
			}
			if length == undefinedLength || int64(length) > int64(len(b)-p-hl) {
				return nil, fmt.Errorf("file meta element (%08X) length %d: %w", tag, length, ErrNotDICOM)
			}
			if tag == 0x00020010 {
				ts = string(bytes.Trim(b[p+hl:p+hl+int(length)], " \x00"))
			}
			p += hl + int(length)
		}
	} else if p == 0 && !looksLikeDataset(b) {
		return nil, ErrNotDICOM
	}
	w := &walker{b: b}
	switch ts {
	case "":
		// No transfer syntax (no File Meta, or meta without it): guess from
		// the first element, as dcmtk and pydicom do.
		w.explicit, w.bigEndian = guessEncoding(b, p)
		switch {
		case w.bigEndian:
			ts = ExplicitVRBigEndian
		case w.explicit:
			ts = ExplicitVRLittleEndian
		default:
			ts = ImplicitVRLittleEndian
		}
	case ImplicitVRLittleEndian:
	case ExplicitVRBigEndian:
		w.explicit, w.bigEndian = true, true
	case DeflatedExplicitVRLE:
		if headerOnly {
			return nil, fmt.Errorf("deflated dataset: %w", ErrNotStreamable)
		}
		w.explicit = true
		inflated, err := inflate(b[p:], lim.MaxInflated)
		if err != nil {
			return nil, err
		}
		w.b, p = inflated, 0
	default:
		w.explicit = true
	}
	ds, _, err := w.dataset(p, len(w.b), 0, false)
	if err != nil && ds[tagPixelData] == nil {
		return nil, fmt.Errorf("walk dataset: %w", err)
	}
	if headerOnly {
		if ds[tagPixelData] == nil && int64(len(b)) < total {
			return nil, fmt.Errorf("no pixel data in the first %d bytes: %w", len(b), ErrNeedMore)
		}
		if w.bigEndian {
			return nil, fmt.Errorf("big endian dataset: %w", ErrNotStreamable)
		}
	}
	img = &Image{bigEndian: w.bigEndian, SOPInstanceUID: ds.str(0x00080018)}
	be := w.bigEndian
	img.Info = Info{
		TransferSyntax:      ts,
		Rows:                ds.integer(0x00280010, be, 0),
		Columns:             ds.integer(0x00280011, be, 0),
		Frames:              ds.integer(0x00280008, be, 1),
		SamplesPerPixel:     ds.integer(0x00280002, be, 1),
		BitsAllocated:       ds.integer(0x00280100, be, 0),
		BitsStored:          ds.integer(0x00280101, be, 0),
		HighBit:             ds.integer(0x00280102, be, -1),
		PixelRepresentation: ds.integer(0x00280103, be, 0),
		PlanarConfiguration: ds.integer(0x00280006, be, 0),
		Photometric:         ds.str(0x00280004),
	}
	if img.Frames == 0 {
		img.Frames = 1
	}
	if img.BitsStored == 0 {
		img.BitsStored = img.BitsAllocated
	}
	if img.HighBit < 0 {
		img.HighBit = img.BitsStored - 1
	}
	if img.Photometric == "" {
		if img.SamplesPerPixel == 3 {
			img.Photometric = "RGB"
		} else {
			img.Photometric = "MONOCHROME2"
		}
	}
	img.Display = readDisplay(ds, be, nil)
	if shared := ds.seq(0x52009229); len(shared) > 0 {
		img.Display = readDisplay(shared[0], be, &img.Display)
	}
	if pf := ds.seq(0x52009230); len(pf) > 0 && len(pf) <= img.Frames {
		img.PerFrame = make([]Display, len(pf))
		for i, item := range pf {
			img.PerFrame[i] = readDisplay(item, be, &img.Display)
		}
	}
	if img.Signed() {
		// LUT Descriptor's first mapped value is SS when Pixel
		// Representation is signed (PS3.3 C.11.1.1.1).
		signLUTs(&img.Display)
		for i := range img.PerFrame {
			signLUTs(&img.PerFrame[i])
		}
	}
	pd := ds[tagPixelData]
	if pd == nil {
		return img, fmt.Errorf("%w", ErrNoPixelData)
	}
	if err := img.Info.Validate(lim); err != nil {
		return img, err
	}
	if pd.fragments != nil || (pd.val == nil && !IsNative(ts)) {
		if headerOnly {
			return nil, fmt.Errorf("encapsulated pixel data: %w", ErrNotStreamable)
		}
		img.encapsulated = true
		img.Truncated, img.lastFrameCut = pd.truncated, pd.cutFragment
		if err := img.assemble(pd, ds); err != nil {
			return img, err
		}
		if IsNative(img.TransferSyntax) {
			// Encapsulated data under a native (or guessed) syntax: files
			// without File Meta. Name the codec from the codestream.
			raw, err := img.RawFrame(1)
			if err != nil {
				return img, err
			}
			img.TransferSyntax = sniffSyntax(raw, img.Info)
		}
		return img, nil
	}
	if !IsNative(ts) && ts != "" {
		// A native Pixel Data element under an encapsulated syntax: follow
		// the data, as dcmtk does.
		img.TransferSyntax = ExplicitVRLittleEndian
	}
	need := nativeBytes(img.Info)
	if headerOnly {
		// pd.val is cut at the end of the prefix; what counts is the
		// declared length, and that the file really holds it.
		declared := int64(pd.size)
		if img.BitsAllocated == 1 || img.TransferSyntax != ts || declared < need || int64(pd.off)+need > total {
			return nil, fmt.Errorf("native pixel data of %d bytes at %d (need %d, file %d): %w", declared, pd.off, need, total, ErrNotStreamable)
		}
		img.headerOnly, img.pixelOffset = true, int64(pd.off)
		return img, nil
	}
	img.native = pd.val
	img.Truncated = pd.truncated
	if int64(len(img.native)) < need {
		return img, fmt.Errorf("native pixel data has %d bytes, %d×%d×%d frames × %d samples × %d bits need %d: %w",
			len(img.native), img.Rows, img.Columns, img.Frames, img.SamplesPerPixel, img.BitsAllocated, need, ErrCorrupt)
	}
	return img, nil
}

// nativeBytes is the size of all native frames as stored.
func nativeBytes(i Info) int64 {
	px := int64(i.Rows) * int64(i.Columns) * int64(i.Frames)
	if i.Photometric == "YBR_FULL_422" || i.Photometric == "YBR_PARTIAL_422" {
		return px * 2 * int64(i.BitsAllocated/8)
	}
	if i.BitsAllocated == 1 {
		return (px*int64(i.SamplesPerPixel) + 7) / 8
	}
	return px * int64(i.SamplesPerPixel) * int64(i.BitsAllocated/8)
}

func looksLikeDataset(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	g := binary.LittleEndian.Uint16(b)
	gb := binary.BigEndian.Uint16(b)
	return (g >= 0x0002 && g <= 0x0010 && g != 0x0003) || (gb >= 0x0002 && gb <= 0x0010)
}

func guessEncoding(b []byte, p int) (explicit, bigEndian bool) {
	if len(b) < p+8 {
		return true, false
	}
	explicit = validVR(b[p+4 : p+6])
	g := binary.LittleEndian.Uint16(b[p:])
	if g > 0x00FF && binary.BigEndian.Uint16(b[p:]) <= 0x00FF {
		return true, true
	}
	return explicit, false
}

func inflate(b []byte, max int64) ([]byte, error) {
	r := flate.NewReader(bytes.NewReader(b))
	defer r.Close()
	var out bytes.Buffer
	n, err := io.Copy(&out, io.LimitReader(r, max+1))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("inflate deflated dataset: %v: %w", err, ErrCorrupt)
	}
	if n > max {
		return nil, fmt.Errorf("deflated dataset inflates beyond %d bytes: %w", max, ErrTooLarge)
	}
	return out.Bytes(), nil
}

func readLUT(desc []uint16, data []uint16) *LUT {
	if len(desc) < 3 || len(data) == 0 {
		return nil
	}
	n := int(desc[0])
	if n == 0 {
		n = 65536
	}
	first := int(desc[1])
	bits := int(desc[2])
	if bits <= 0 || bits > 16 {
		bits = 16
	}
	if n < len(data) {
		data = data[:n]
	}
	return &LUT{FirstMapped: first, Bits: bits, Data: data}
}

// lutFromItem reads a LUT from a Modality/VOI LUT Sequence item. LUT Data
// with 8-bit entries packed two per word (OW with bits 8) is unpacked.
func lutFromItem(it dataset, be bool) *LUT {
	desc := it.u16s(0x00283002, be)
	data := it.u16s(0x00283006, be)
	l := readLUT(desc, data)
	if l == nil {
		return nil
	}
	// Descriptor's first value counts entries; when the data holds half as
	// many words with 8-bit entries, they are packed.
	if n := int(desc[0]); (n == 0 && len(data) == 32768 || n == 2*len(data)) && l.Bits == 8 {
		e := it[0x00283006]
		l.Data = make([]uint16, len(e.val))
		for i, v := range e.val {
			l.Data[i] = uint16(v)
		}
	}
	return l
}

func readDisplay(ds dataset, be bool, base *Display) Display {
	d := Display{RescaleSlope: 1}
	if base != nil {
		d = *base
	}
	if pvt := ds.seq(0x00289145); len(pvt) > 0 {
		ds2 := pvt[0]
		d.RescaleSlope = ds2.float(0x00281053, 1)
		d.RescaleIntercept = ds2.float(0x00281052, 0)
	}
	if _, ok := ds[0x00281053]; ok {
		d.RescaleSlope = ds.float(0x00281053, 1)
	}
	if _, ok := ds[0x00281052]; ok {
		d.RescaleIntercept = ds.float(0x00281052, 0)
	}
	if d.RescaleSlope == 0 {
		d.RescaleSlope = 1
	}
	if m := ds.seq(0x00283000); len(m) > 0 {
		d.ModalityLUT = lutFromItem(m[0], be)
	}
	winSrc := ds
	if fv := ds.seq(0x00289132); len(fv) > 0 {
		winSrc = fv[0]
	}
	if c, wd := winSrc.floats(0x00281050), winSrc.floats(0x00281051); len(c) > 0 && len(wd) > 0 {
		d.Windows = nil
		for i := range c {
			if i < len(wd) {
				d.Windows = append(d.Windows, Window{Center: c[i], Width: wd[i]})
			}
		}
	}
	if f := winSrc.str(0x00281056); f != "" {
		d.VOIFunction = f
	}
	if v := ds.seq(0x00283010); len(v) > 0 {
		d.VOILUT = lutFromItem(v[0], be)
	}
	for i, t := range [3][2]uint32{{0x00281101, 0x00281201}, {0x00281102, 0x00281202}, {0x00281103, 0x00281203}} {
		if l := readLUT(ds.u16s(t[0], be), ds.u16s(t[1], be)); l != nil {
			d.Palette[i] = l
		}
	}
	return d
}

func signLUTs(d *Display) {
	for _, l := range []*LUT{d.ModalityLUT, d.VOILUT} {
		if l != nil && l.FirstMapped > 32767 {
			l.FirstMapped -= 65536
		}
	}
}

// FrameDisplay returns the display attributes for 1-based frame n.
func (img *Image) FrameDisplay(n int) Display {
	if n >= 1 && n <= len(img.PerFrame) {
		return img.PerFrame[n-1]
	}
	return img.Display
}

// Encapsulated reports whether the pixel data is encapsulated (compressed).
func (img *Image) Encapsulated() bool { return img.encapsulated }

// RawFrame returns the bytes of 1-based frame n as stored: the codestream
// for an encapsulated syntax (fragments joined), or the native bytes in the
// dataset's byte order. It allocates only when fragments must be joined or a
// native frame does not start on a byte boundary (1-bit data).
func (img *Image) RawFrame(n int) ([]byte, error) {
	if n < 1 || n > img.Frames {
		return nil, fmt.Errorf("frame %d of %d: %w", n, img.Frames, ErrFrameRange)
	}
	if img.headerOnly {
		return nil, fmt.Errorf("frame %d: pixel data not read (header only): %w", n, ErrNotStreamable)
	}
	if img.encapsulated {
		if n > len(img.frames) {
			return nil, fmt.Errorf("frame %d of %d found in encapsulated data: %w", n, len(img.frames), ErrCorrupt)
		}
		frags := img.frames[n-1]
		if img.lastFrameCut && n == len(img.frames) {
			return nil, fmt.Errorf("frame %d is cut short by the end of the file: %w", n, ErrCorrupt)
		}
		if len(frags) == 1 {
			return frags[0], nil
		}
		total := 0
		for _, f := range frags {
			total += len(f)
		}
		out := make([]byte, 0, total)
		for _, f := range frags {
			out = append(out, f...)
		}
		return out, nil
	}
	size := nativeBytes(Info{Rows: img.Rows, Columns: img.Columns, Frames: 1, SamplesPerPixel: img.SamplesPerPixel, BitsAllocated: img.BitsAllocated, Photometric: img.Photometric})
	if img.BitsAllocated == 1 {
		bits := int64(img.Rows) * int64(img.Columns) * int64(img.SamplesPerPixel)
		start := bits * int64(n-1)
		out := make([]byte, (bits+7)/8)
		for i := int64(0); i < bits; i++ {
			b := start + i
			if img.native[b/8]>>(b%8)&1 != 0 {
				out[i/8] |= 1 << (i % 8)
			}
		}
		return out, nil
	}
	off := size * int64(n-1)
	return img.native[off : off+size], nil
}

// assemble groups encapsulated fragments into frames: Extended Offset
// Table, else Basic Offset Table, else one fragment per frame when the
// counts agree, else codec start markers.
func (img *Image) assemble(pd *element, ds dataset) error {
	if len(pd.fragments) == 0 {
		return fmt.Errorf("encapsulated pixel data without items: %w", ErrCorrupt)
	}
	bot, frags := pd.fragments[0], pd.fragments[1:]
	if len(frags) == 0 {
		return fmt.Errorf("encapsulated pixel data has no fragments: %w", ErrCorrupt)
	}
	// starts[i] = offset of fragment i's item tag, relative to the first
	// fragment's item tag (the reference of BOT and EOT).
	starts := make([]uint64, len(frags))
	var off uint64
	for i, f := range frags {
		starts[i] = off
		off += 8 + uint64(len(f))
	}
	var offsets []uint64
	if eot := ds[tagExtOffsets]; eot != nil && len(eot.val) >= 8*img.Frames {
		for i := 0; i < img.Frames; i++ {
			offsets = append(offsets, binary.LittleEndian.Uint64(eot.val[8*i:]))
		}
	} else if len(bot) >= 4*img.Frames && len(bot) > 0 {
		for i := 0; i < img.Frames; i++ {
			offsets = append(offsets, uint64(binary.LittleEndian.Uint32(bot[4*i:])))
		}
	}
	if offsets != nil {
		frames, ok := groupByOffsets(frags, starts, offsets)
		if ok {
			img.frames = frames
			return nil
		}
		// A broken offset table: fall back to markers, as dcmtk does.
	}
	switch {
	case img.Frames == 1:
		img.frames = [][][]byte{frags}
	case len(frags) == img.Frames:
		img.frames = make([][][]byte, len(frags))
		for i, f := range frags {
			img.frames[i] = [][]byte{f}
		}
	default:
		for _, f := range frags {
			if len(img.frames) == 0 || startsCodestream(f) {
				img.frames = append(img.frames, [][]byte{f})
				continue
			}
			last := len(img.frames) - 1
			img.frames[last] = append(img.frames[last], f)
		}
	}
	if len(img.frames) < img.Frames {
		return fmt.Errorf("found %d frames in %d fragments, header says %d: %w", len(img.frames), len(frags), img.Frames, ErrCorrupt)
	}
	return nil
}

func groupByOffsets(frags [][]byte, starts, offsets []uint64) ([][][]byte, bool) {
	frames := make([][][]byte, len(offsets))
	for i, o := range offsets {
		if i > 0 && o <= offsets[i-1] {
			return nil, false
		}
		end := ^uint64(0)
		if i+1 < len(offsets) {
			end = offsets[i+1]
		}
		for j, s := range starts {
			if s >= o && s < end {
				frames[i] = append(frames[i], frags[j])
			}
		}
		if len(frames[i]) == 0 {
			return nil, false
		}
	}
	return frames, true
}

// startsCodestream reports whether a fragment begins a JPEG family (SOI),
// JPEG 2000 (SOC or JP2 signature) codestream.
func startsCodestream(f []byte) bool {
	if len(f) >= 2 && f[0] == 0xFF && f[1] == 0xD8 {
		return true
	}
	if len(f) >= 4 && f[0] == 0xFF && f[1] == 0x4F && f[2] == 0xFF && f[3] == 0x51 {
		return true
	}
	return len(f) >= 12 && bytes.Equal(f[4:8], []byte("jP  "))
}

// sniffSyntax names the transfer syntax of an encapsulated frame from its
// first bytes, for files that do not say (no File Meta).
func sniffSyntax(f []byte, info Info) string {
	if len(f) >= 4 && f[0] == 0xFF && f[1] == 0xD8 {
		for p := 2; p+3 < len(f); {
			if f[p] != 0xFF {
				break
			}
			m := f[p+1]
			switch m {
			case 0xF7:
				return JPEGLSLossless
			case 0xC3:
				return JPEGLossless
			case 0xC0:
				return JPEGBaseline
			case 0xC1, 0xC2:
				return JPEGExtended
			}
			p += 2 + int(binary.BigEndian.Uint16(f[p+2:]))
		}
		return JPEGBaseline
	}
	if startsCodestream(f) {
		return JPEG2000
	}
	if len(f) >= 64 {
		if n := binary.LittleEndian.Uint32(f); n >= 1 && n <= 15 && binary.LittleEndian.Uint32(f[4:]) == 64 {
			return RLELossless
		}
	}
	return "unknown (encapsulated data without a transfer syntax)"
}

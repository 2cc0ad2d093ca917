package dicomfile

import (
	"bufio"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/huren-health/huren/dicomjson"
)

// Transfer Syntax UIDs the parser treats specially.
const (
	TSImplicitLittle = "1.2.840.10008.1.2"
	TSExplicitLittle = "1.2.840.10008.1.2.1"
	TSDeflated       = "1.2.840.10008.1.2.1.99"
	TSExplicitBig    = "1.2.840.10008.1.2.2"
	TSRLE            = "1.2.840.10008.1.2.5"
)

// bufPool recycles the 64 KiB read buffers: one per Parse would dominate
// the allocation cost of parsing a typical header.
var bufPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

// maxDepth bounds sequence nesting (stack-overflow guard).
const maxDepth = 32

// Parse reads a DICOM file from r: Part 10 with preamble and File Meta, or a
// legacy file without preamble and/or File Meta (its encoding is detected).
// size is the total byte count, or -1 if unknown; when known, a stream that
// ends early is reported as ErrTruncated even at an element boundary.
//
// Parse reads r sequentially exactly once and keeps only non-bulk values in
// memory. It never panics. Errors wrap one of the package sentinels.
func Parse(r io.Reader, size int64, opts Options) (f *File, err error) {
	defer func() {
		if p := recover(); p != nil {
			f = nil
			err = fmt.Errorf("%w: internal parser error (%v); please report this file to the Huren maintainers", ErrMalformed, p)
			if opts.Logger != nil {
				opts.Logger.Error("dicomfile: parser panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}
	}()
	opts = opts.withDefaults()
	src, seeker, size := boundInput(r, size)
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(src)
	defer func() { br.Reset(nil); bufPool.Put(br) }()
	rd := &reader{br: br, size: size, budget: opts.MaxHeaderBytes, src: src, seeker: seeker}
	p := &parser{r: rd, opts: opts, f: &File{}}
	if err := p.run(); err != nil {
		return nil, err
	}
	return p.f, nil
}

// boundInput prepares the input: it never reads past size bytes (the caller
// may hand over a reader on a longer stream), and it returns a Seeker to
// jump over large values only when the bytes really are there — a stream
// shorter than its declared size is read, not sought, so that the
// truncation is reported where it is. size is returned as the number of
// bytes that can be read when the caller did not know it but the input can
// tell.
func boundInput(r io.Reader, size int64) (io.Reader, io.Seeker, int64) {
	sk, ok := r.(io.Seeker)
	if !ok {
		if size >= 0 {
			return io.LimitReader(r, size), nil, size
		}
		return r, nil, size
	}
	cur, err1 := sk.Seek(0, io.SeekCurrent)
	end, err2 := sk.Seek(0, io.SeekEnd)
	_, err3 := sk.Seek(cur, io.SeekStart)
	if err1 != nil || err2 != nil || err3 != nil {
		if size >= 0 {
			return io.LimitReader(r, size), nil, size
		}
		return r, nil, size
	}
	avail := end - cur
	if size < 0 {
		size = avail
	}
	if avail < size {
		return io.LimitReader(r, size), nil, size
	}
	if ra, ok := r.(io.ReaderAt); ok {
		sec := io.NewSectionReader(ra, cur, size)
		return sec, sec, size
	}
	// A Seeker without ReaderAt: seeking stays correct because at least
	// size bytes exist; reads may run past size into the rest of the stream
	// only through the read-ahead buffer, which the size checks ignore.
	return r, sk, size
}

type parser struct {
	r    *reader
	opts Options
	f    *File
	// encoding of the dataset being read
	bo       binary.ByteOrder
	explicit bool
	// pixel data collected while walking the top level
	pix *pixelScan
	// Pixel Representation seen so far (resolves "US or SS" in implicit VR)
	pixelRep int
	// raw values needed after the walk
	eotOffsets, eotLengths []byte
}

// elemHeader is one parsed element header.
type elemHeader struct {
	group, elem uint16
	vr          string
	length      uint32 // 0xFFFFFFFF = undefined
	valueOffset int64
	explicit    bool
	bo          binary.ByteOrder
}

const undefinedLength = 0xFFFFFFFF

func (h *elemHeader) tag() uint32 { return uint32(h.group)<<16 | uint32(h.elem) }

// SniffLen is how many leading bytes Sniff looks at.
const SniffLen = 132

// Sniff reports ErrNotDICOM when head, the first SniffLen bytes of an
// upload, cannot start a DICOM file — the same first test Parse makes, for
// a receiver that wants to stop reading a large body at its first bytes
// instead of after storing all of it. Shorter heads are not judged.
func Sniff(head []byte) error {
	if len(head) < SniffLen || string(head[128:132]) == "DICM" || string(head[0:4]) == "DICM" || plausibleFirstElement(head[:8]) {
		return nil
	}
	return fmt.Errorf("%w: no \"DICM\" marker at byte 128 and the first bytes (% X) are not a DICOM element: check that a DICOM file, not a report or picture, was sent",
		ErrNotDICOM, head[:8])
}

func (p *parser) run() error {
	r := p.r
	head := r.peek(132)
	switch {
	case len(head) >= 132 && string(head[128:132]) == "DICM":
		if err := r.skip(132, at("the preamble")); err != nil {
			return err
		}
	case len(head) >= 4 && string(head[0:4]) == "DICM":
		// Prefix without the 128-byte preamble, seen from some writers.
		if err := r.skip(4, at("the DICM prefix")); err != nil {
			return err
		}
	}
	part10 := r.pos > 0
	if !part10 {
		// No DICM marker: accept only what looks like a raw dataset or File
		// Meta (legacy files), so that a PDF or JPEG upload gets a clear
		// answer instead of a puzzling encoding error.
		if b := r.peek(8); len(b) >= 8 && !plausibleFirstElement(b) {
			return fmt.Errorf("%w: no \"DICM\" marker at byte 128 and the first bytes (% X) are not a DICOM element: check that a DICOM file, not a report or picture, was sent",
				ErrNotDICOM, b)
		}
	}
	if len(r.peek(8)) < 8 {
		return fmt.Errorf("%w: the file has only %d bytes, too few for any DICOM element: check that the right file was sent", ErrNotDICOM, r.pos+int64(len(r.peek(8))))
	}
	// File Meta Information: group 0002, always Explicit VR Little Endian.
	meta, err := p.readMeta()
	if err != nil {
		return err
	}
	p.f.HasFileMeta = meta != nil
	p.f.Meta = meta
	p.f.DatasetOffset = r.pos
	ts := ""
	if meta != nil {
		ts = meta.String(dicomjson.Tag(0x0002, 0x0010))
	}
	ts = strings.TrimRight(ts, "\x00 ")
	if err := p.chooseEncoding(ts); err != nil {
		return err
	}
	if p.f.Deflated {
		// The dataset is raw-deflated (RFC 1951) after the File Meta.
		fr := flate.NewReader(p.r.br)
		lim := &inflateLimit{r: fr, left: p.opts.MaxInflatedBytes}
		p.r.br = bufio.NewReaderSize(lim, 64<<10)
		p.r.size = -1
		p.r.src, p.r.seeker = nil, nil
	}
	p.pix = nil
	ds, err := p.readDataset(-1, 0, "", newCharset(nil, p.opts.FallbackCharset), true)
	if err != nil {
		return err
	}
	p.f.Dataset = ds
	p.f.Size = r.pos
	p.fillSummary()
	if p.pix != nil {
		p.f.Pixels = p.pixelInfo()
	}
	return nil
}

// plausibleFirstElement reports whether b (8 bytes) can start a dataset
// without preamble: a low even group (command, meta, directory or identifying
// groups, little or big endian) and, if explicit, a known VR.
func plausibleFirstElement(b []byte) bool {
	if isZero(b) {
		return false
	}
	for _, g := range []uint16{binary.LittleEndian.Uint16(b), binary.BigEndian.Uint16(b)} {
		if g <= 0x0008 && g%2 == 0 {
			return true
		}
	}
	return false
}

// inflateLimit caps the inflated size of a deflated dataset.
type inflateLimit struct {
	r    io.Reader
	left int64
}

func (l *inflateLimit) Read(b []byte) (int, error) {
	if l.left <= 0 {
		return 0, fmt.Errorf("%w: the deflated dataset inflates to more than the configured limit: refusing it (possible zip bomb)", ErrTooLarge)
	}
	if int64(len(b)) > l.left {
		b = b[:l.left]
	}
	n, err := l.r.Read(b)
	l.left -= int64(n)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return n, fmt.Errorf("%w: the deflated dataset ends before its last block: the upload was cut off; send the complete file again", ErrTruncated)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("%w: the deflated dataset is corrupt (%v): send the file again", ErrMalformed, err)
	}
	return n, err
}

// readMeta reads group 0002 if the next element belongs to it; nil if absent.
func (p *parser) readMeta() (dicomjson.Dataset, error) {
	r := p.r
	b := r.peek(6)
	if len(b) < 6 || binary.LittleEndian.Uint16(b) != 0x0002 {
		return nil, nil
	}
	meta := dicomjson.Dataset{}
	cs := newCharset(nil, "")
	for {
		b := r.peek(6)
		if len(b) < 6 || binary.LittleEndian.Uint16(b) != 0x0002 {
			break
		}
		// Meta is Explicit VR LE by definition, but some writers emit it
		// implicit: decide per element.
		p.bo = binary.LittleEndian
		p.explicit = isVR(b[4], b[5])
		h, err := p.readHeader()
		if err != nil {
			return nil, err
		}
		if h.length == undefinedLength {
			return nil, fmt.Errorf("%w: File Meta element %s at byte %d has undefined length", ErrMalformed, tagName(h.group, h.elem), h.valueOffset-8)
		}
		if h.length > 1<<16 {
			return nil, fmt.Errorf("%w: File Meta element %s at byte %d claims %d bytes: this is not a DICOM file header", ErrNotDICOM, tagName(h.group, h.elem), h.valueOffset-8, h.length)
		}
		val, err := r.read(int64(h.length), elemAt("File Meta element ", h.group, h.elem))
		if err != nil {
			return nil, err
		}
		if e := p.decodeValue(h, val, cs); e != nil {
			meta[tagKey(h.group, h.elem)] = e
		}
	}
	return meta, nil
}

// knownTS lists the transfer syntaxes Huren accepts. All encapsulated ones
// share the Explicit VR Little Endian dataset encoding.
var knownTS = map[string]string{
	TSImplicitLittle:          "Implicit VR Little Endian",
	TSExplicitLittle:          "Explicit VR Little Endian",
	"1.2.840.10008.1.2.1.98":  "Encapsulated Uncompressed Explicit VR Little Endian",
	TSDeflated:                "Deflated Explicit VR Little Endian",
	TSExplicitBig:             "Explicit VR Big Endian",
	"1.2.840.10008.1.2.4.50":  "JPEG Baseline (Process 1)",
	"1.2.840.10008.1.2.4.51":  "JPEG Extended (Process 2 & 4)",
	"1.2.840.10008.1.2.4.57":  "JPEG Lossless, Non-Hierarchical (Process 14)",
	"1.2.840.10008.1.2.4.70":  "JPEG Lossless, First-Order Prediction (Process 14 SV1)",
	"1.2.840.10008.1.2.4.80":  "JPEG-LS Lossless",
	"1.2.840.10008.1.2.4.81":  "JPEG-LS Near-Lossless",
	"1.2.840.10008.1.2.4.90":  "JPEG 2000 (Lossless Only)",
	"1.2.840.10008.1.2.4.91":  "JPEG 2000",
	"1.2.840.10008.1.2.4.92":  "JPEG 2000 Part 2 Multi-component (Lossless Only)",
	"1.2.840.10008.1.2.4.93":  "JPEG 2000 Part 2 Multi-component",
	"1.2.840.10008.1.2.4.201": "High-Throughput JPEG 2000 (Lossless Only)",
	"1.2.840.10008.1.2.4.202": "High-Throughput JPEG 2000 with RPCL (Lossless Only)",
	"1.2.840.10008.1.2.4.203": "High-Throughput JPEG 2000",
	"1.2.840.10008.1.2.4.100": "MPEG2 Main Profile / Main Level",
	"1.2.840.10008.1.2.4.101": "MPEG2 Main Profile / High Level",
	"1.2.840.10008.1.2.4.102": "MPEG-4 AVC/H.264 High Profile / Level 4.1",
	"1.2.840.10008.1.2.4.103": "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1",
	"1.2.840.10008.1.2.4.104": "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video",
	"1.2.840.10008.1.2.4.105": "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video",
	"1.2.840.10008.1.2.4.106": "MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2",
	"1.2.840.10008.1.2.4.107": "HEVC/H.265 Main Profile / Level 5.1",
	"1.2.840.10008.1.2.4.108": "HEVC/H.265 Main 10 Profile / Level 5.1",
	"1.2.840.10008.1.2.4.110": "JPEG XL Lossless",
	"1.2.840.10008.1.2.4.111": "JPEG XL JPEG Recompression",
	"1.2.840.10008.1.2.4.112": "JPEG XL",
	TSRLE:                     "RLE Lossless",
	"1.2.840.10008.1.2.8.1":   "Deflated Image Frame Compression",
	"1.2.840.10008.1.2.4.94":  "JPIP Referenced",
	"1.2.840.10008.1.2.4.95":  "JPIP Referenced Deflate",
	"1.2.840.10008.1.2.4.204": "JPIP HTJ2K Referenced",
	"1.2.840.10008.1.2.4.205": "JPIP HTJ2K Referenced Deflate",
	"1.2.840.10008.1.2.7.1":   "SMPTE ST 2110-20 Uncompressed Progressive Active Video",
	"1.2.840.10008.1.2.7.2":   "SMPTE ST 2110-20 Uncompressed Interlaced Active Video",
	"1.2.840.10008.1.2.7.3":   "SMPTE ST 2110-30 PCM Digital Audio",
	"1.2.840.10008.1.2.4.52":  "JPEG Extended (Process 3 & 5) (retired)",
	"1.2.840.10008.1.2.4.53":  "JPEG Spectral Selection, Non-Hierarchical (Process 6 & 8) (retired)",
	"1.2.840.10008.1.2.4.55":  "JPEG Full Progression, Non-Hierarchical (Process 10 & 12) (retired)",
	"1.2.840.10008.1.2.4.58":  "JPEG Lossless, Non-Hierarchical (Process 15) (retired)",
	"1.2.840.10008.1.2.4.54":  "JPEG Spectral Selection, Non-Hierarchical (Process 7 & 9) (retired)",
	"1.2.840.10008.1.2.4.56":  "JPEG Full Progression, Non-Hierarchical (Process 11 & 13) (retired)",
	"1.2.840.10008.1.2.4.59":  "JPEG Extended, Hierarchical (Process 16 & 18) (retired)",
	"1.2.840.10008.1.2.4.60":  "JPEG Extended, Hierarchical (Process 17 & 19) (retired)",
	"1.2.840.10008.1.2.4.61":  "JPEG Spectral Selection, Hierarchical (Process 20 & 22) (retired)",
	"1.2.840.10008.1.2.4.62":  "JPEG Spectral Selection, Hierarchical (Process 21 & 23) (retired)",
	"1.2.840.10008.1.2.4.63":  "JPEG Full Progression, Hierarchical (Process 24 & 26) (retired)",
	"1.2.840.10008.1.2.4.64":  "JPEG Full Progression, Hierarchical (Process 25 & 27) (retired)",
	"1.2.840.10008.1.2.4.65":  "JPEG Lossless, Hierarchical (Process 28) (retired)",
	"1.2.840.10008.1.2.4.66":  "JPEG Lossless, Hierarchical (Process 29) (retired)",
}

// TransferSyntaxName returns the name of a known transfer syntax, or "".
func TransferSyntaxName(uid string) string { return knownTS[uid] }

// IsEncapsulatedTS reports whether uid stores Pixel Data encapsulated.
func IsEncapsulatedTS(uid string) bool {
	switch uid {
	case TSImplicitLittle, TSExplicitLittle, TSDeflated, TSExplicitBig, "":
		return false
	}
	return knownTS[uid] != ""
}

// chooseEncoding sets the dataset encoding from the declared transfer syntax,
// or detects it from the first element when none is declared. A declared
// little-endian syntax that contradicts the bytes (explicit vs implicit) is
// corrected, as real devices get this wrong.
func (p *parser) chooseEncoding(ts string) error {
	b := p.r.peek(8)
	detected := ""
	if len(b) >= 6 {
		gLE := binary.LittleEndian.Uint16(b)
		gBE := binary.BigEndian.Uint16(b)
		switch {
		case isVR(b[4], b[5]) && gLE <= gBE:
			detected = TSExplicitLittle
		case isVR(b[4], b[5]):
			detected = TSExplicitBig
		default:
			detected = TSImplicitLittle
		}
	} else if len(b) == 0 {
		detected = TSImplicitLittle // empty dataset
	}
	if ts == "" {
		if len(b) < 6 && len(b) > 0 {
			return fmt.Errorf("%w: only %d bytes follow the File Meta", ErrTruncated, len(b))
		}
		p.f.TransferSyntax = detected
		p.f.TransferSyntaxDetected = true
	} else {
		if knownTS[ts] == "" {
			return fmt.Errorf("%w: Transfer Syntax UID %q is not one Huren can read; ask the sender to transmit in Explicit VR Little Endian or a standard compressed syntax", ErrUnsupportedTransferSyntax, ts)
		}
		p.f.TransferSyntax = ts
	}
	switch p.f.TransferSyntax {
	case TSImplicitLittle:
		p.bo, p.explicit = binary.LittleEndian, false
		if detected == TSExplicitLittle && !p.f.TransferSyntaxDetected {
			p.explicit = true
		}
	case TSExplicitBig:
		p.bo, p.explicit = binary.BigEndian, true
	case TSDeflated:
		p.bo, p.explicit = binary.LittleEndian, true
		p.f.Deflated = true
	default:
		p.bo, p.explicit = binary.LittleEndian, true
		if detected == TSImplicitLittle && len(b) >= 6 && !p.f.TransferSyntaxDetected {
			p.explicit = false
		}
	}
	return nil
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// isVR reports whether two bytes are a known VR.
func isVR(a, b byte) bool {
	if !isUpper(a) || !isUpper(b) {
		return false
	}
	_, ok := vrInfo[string([]byte{a, b})]
	return ok
}

// vrInfo: for each VR, whether its explicit header has the 4-byte length form.
var vrInfo = map[string]bool{
	"AE": false, "AS": false, "AT": false, "CS": false, "DA": false, "DS": false, "DT": false,
	"FL": false, "FD": false, "IS": false, "LO": false, "LT": false, "PN": false, "SH": false,
	"SL": false, "SS": false, "ST": false, "TM": false, "UI": false, "UL": false, "US": false,
	"OB": true, "OD": true, "OF": true, "OL": true, "OV": true, "OW": true, "SQ": true,
	"SV": true, "UC": true, "UN": true, "UR": true, "UT": true, "UV": true,
}

// vrNames maps each VR to an interned string of itself.
var vrNames = func() map[string]string {
	m := make(map[string]string, len(vrInfo))
	for vr := range vrInfo {
		m[vr] = vr
	}
	return m
}()

// readHeader reads one element header in the current encoding.
func (p *parser) readHeader() (elemHeader, error) {
	r := p.r
	start := r.pos
	b, err := r.small(8, at("an element header"))
	if err != nil {
		return elemHeader{}, err
	}
	h := elemHeader{group: p.bo.Uint16(b[0:2]), elem: p.bo.Uint16(b[2:4]), explicit: p.explicit, bo: p.bo}
	if h.group == 0xFFFE {
		// Item, Item Delimitation and Sequence Delimitation: never a VR.
		h.length = p.bo.Uint32(b[4:8])
		h.valueOffset = r.pos
		return h, nil
	}
	if !p.explicit {
		h.length = p.bo.Uint32(b[4:8])
		h.vr = implicitVR(h.group, h.elem)
		h.valueOffset = r.pos
		return h, nil
	}
	if !isUpper(b[4]) || !isUpper(b[5]) {
		return h, fmt.Errorf("%w: element %s at byte %d has an invalid VR (bytes %02X %02X): the file is corrupt or not in the declared transfer syntax",
			ErrMalformed, tagName(h.group, h.elem), start, b[4], b[5])
	}
	// Look the VR up without converting the bytes (no allocation) and use
	// the dictionary's own string.
	long, known := vrInfo[string(b[4:6])]
	if known {
		h.vr = vrNames[string(b[4:6])]
	} else {
		// Unknown VR (PS3.5 6.2: treat as UN with the long form when the
		// reserved bytes are zero, else the short form).
		if b[6] == 0 && b[7] == 0 {
			long = true
		}
		h.vr = "UN"
	}
	if long {
		b2, err := r.small(4, at("an element header"))
		if err != nil {
			return h, err
		}
		h.length = p.bo.Uint32(b2)
	} else {
		h.length = uint32(p.bo.Uint16(b[6:8]))
	}
	h.valueOffset = r.pos
	return h, nil
}

// readDataset reads elements until end (absolute offset; -1 = until EOF at
// top level or until an Item Delimitation Item in an undefined-length item).
func (p *parser) readDataset(end int64, depth int, prefix string, cs *charset, top bool) (dicomjson.Dataset, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: sequences nested more than %d deep at byte %d", ErrMalformed, maxDepth, p.r.pos)
	}
	ds := dicomjson.Dataset{}
	r := p.r
	var lastTag uint32
	for {
		if end >= 0 {
			if r.pos == end {
				return ds, nil
			}
			if r.pos > end {
				return nil, fmt.Errorf("%w: an element runs past the end of its item (byte %d > %d)", ErrMalformed, r.pos, end)
			}
		} else if top && r.atEOF() {
			return ds, nil
		} else if top && len(ds) > 0 && isZero(r.peek(8)) {
			// Some writers pad files with zero bytes to a block size.
			if err := p.skipZeroPadding(); err != nil {
				return nil, err
			}
			return ds, nil
		}
		if err := r.charge(); err != nil {
			return nil, err
		}
		h, err := p.readHeader()
		if err != nil {
			return nil, err
		}
		if h.group == 0xFFFE {
			switch h.elem {
			case 0xE00D: // Item Delimitation
				if end < 0 && !top {
					return ds, nil
				}
				return nil, fmt.Errorf("%w: unexpected Item Delimitation Item at byte %d", ErrMalformed, h.valueOffset-8)
			case 0xE0DD:
				if top {
					// Stray sequence delimiter at top level (seen after
					// some broken writers): nothing follows that matters.
					if h.length == 0 {
						continue
					}
				}
				return nil, fmt.Errorf("%w: unexpected Sequence Delimitation Item at byte %d", ErrMalformed, h.valueOffset-8)
			default:
				return nil, fmt.Errorf("%w: unexpected item tag %s at byte %d outside a sequence", ErrMalformed, tagName(h.group, h.elem), h.valueOffset-8)
			}
		}
		t := h.tag()
		if t < lastTag && top && h.group == 0x0002 {
			return nil, fmt.Errorf("%w: File Meta element %s found inside the dataset at byte %d", ErrMalformed, tagName(h.group, h.elem), h.valueOffset-8)
		}
		lastTag = t
		key := tagKey(h.group, h.elem)
		el, err := p.readElement(h, key, depth, prefix, cs, top)
		if err != nil {
			return nil, err
		}
		if el == nil {
			continue
		}
		if h.group == 0x0002 && top {
			continue // stray File Meta elements are not dataset attributes
		}
		ds[key] = el
		if t == 0x00280103 && len(el.Value) > 0 {
			if v, ok := el.Value[0].(int64); ok {
				p.pixelRep = int(v)
			}
		}
		if h.group == 0x0008 && h.elem == 0x0005 {
			cs = newCharset(el.Value, p.opts.FallbackCharset)
			if top {
				p.f.SpecificCharacterSet = valueStrings(el.Value)
			}
		}
	}
}

func isZero(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// skipZeroPadding consumes trailing zero bytes up to the end of the data;
// anything else after them is an error.
func (p *parser) skipZeroPadding() error {
	r := p.r
	start := r.pos
	for {
		b, err := r.br.Peek(4096)
		for i, c := range b {
			if c != 0 {
				return fmt.Errorf("%w: %d zero bytes at byte %d are followed by data at byte %d: the file is corrupt",
					ErrMalformed, r.pos+int64(i)-start, start, r.pos+int64(i))
			}
		}
		if len(b) > 0 {
			if rem := r.remaining(); rem >= 0 && int64(len(b)) > rem {
				b = b[:rem]
			}
			r.br.Discard(len(b))
			r.pos += int64(len(b))
		}
		if r.size >= 0 && r.pos >= r.size {
			return nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if r.size >= 0 && r.pos < r.size {
					return r.truncatedAt(r.size-r.pos, at("trailing padding"))
				}
				return nil
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				return r.ioErr(err, 0, at("trailing padding"))
			}
		}
	}
}

// binaryVR: VRs whose values may become bulk data.
func binaryVR(vr string) bool {
	switch vr {
	case "OB", "OW", "OF", "OD", "OL", "OV", "UN":
		return true
	}
	return false
}

// readElement reads the value of the element whose header is h.
func (p *parser) readElement(h elemHeader, key string, depth int, prefix string, cs *charset, top bool) (*dicomjson.Element, error) {
	r := p.r
	t := h.tag()
	vr := h.vr
	path := prefix + key // no allocation at top level, where prefix is ""
	// Pixel Data, or Float / Double Float Pixel Data (parametric maps).
	isPixel := t == 0x7FE00010 || (t == 0x7FE00008 || t == 0x7FE00009) && h.length != undefinedLength

	// UN with a dictionary VR: reinterpret (pydicom and dcmtk do the same).
	// Its content is always Implicit VR Little Endian.
	if vr == "UN" && h.explicit && h.group%2 == 1 && h.elem >= 0x0010 && h.elem <= 0x00FF && h.length != undefinedLength {
		vr, h.vr = "LO", "LO" // Private Creator is always LO (PS3.5 7.8.1)
	}
	if vr == "UN" && h.explicit && h.group%2 == 0 {
		if dv := dictVR(h.group, h.elem); dv != "" && dv != "UN" {
			if dv == "SQ" {
				return p.readSequence(h, depth, path, cs, false, binary.LittleEndian)
			}
			if h.length != undefinedLength && !binaryVR(dv) && h.bo == binary.LittleEndian {
				vr = dv
				h.vr = dv
			}
		}
	}

	if h.length == undefinedLength {
		switch {
		case isPixel && (vr == "OB" || vr == "OW" || vr == "UN" || !h.explicit):
			return p.readEncapsulated(h, path, top)
		case vr == "SQ":
			return p.readSequence(h, depth, path, cs, h.explicit, h.bo)
		case vr == "UN" || (!h.explicit && (vr == "" || h.group%2 == 1)):
			// Undefined-length UN / unknown implicit element: a sequence in
			// Implicit VR Little Endian (PS3.5 6.2.2).
			return p.readSequence(h, depth, path, cs, false, binary.LittleEndian)
		default:
			return nil, fmt.Errorf("%w: element %s (VR %s) at byte %d has undefined length, which only sequences and Pixel Data may have",
				ErrMalformed, tagName(h.group, h.elem), vr, h.valueOffset-8)
		}
	}
	if vr == "SQ" {
		return p.readSequence(h, depth, path, cs, h.explicit, h.bo)
	}
	if vr == "" {
		vr = "UN"
		h.vr = vr
	}
	if vr == vrUSorSS {
		vr = "US"
		if p.pixelRep == 1 {
			vr = "SS"
		}
		h.vr = vr
	}
	n := int64(h.length)
	if rem := r.remaining(); rem >= 0 && n > rem {
		return nil, r.truncatedAt(n-rem, elemAt("", h.group, h.elem))
	}
	if isPixel || (binaryVR(vr) && n > int64(p.opts.BulkThreshold) && t != 0x7FE00001 && t != 0x7FE00002) {
		p.f.Bulk = append(p.f.Bulk, BulkRef{TagPath: path, VR: vr, Offset: h.valueOffset, Length: n})
		if isPixel && top && p.pix == nil {
			p.pix = &pixelScan{offset: h.valueOffset, length: n, vr: vr}
		}
		if err := r.skip(n, elemAt("", h.group, h.elem)); err != nil {
			return nil, err
		}
		return &dicomjson.Element{VR: vr, BulkDataURI: path}, nil
	}
	val, err := r.read(n, elemAt("", h.group, h.elem))
	if err != nil {
		return nil, err
	}
	if top && (t == 0x7FE00001 || t == 0x7FE00002) {
		if t == 0x7FE00001 {
			p.eotOffsets = val
		} else {
			p.eotLengths = val
		}
		if n > int64(p.opts.BulkThreshold) {
			p.f.Bulk = append(p.f.Bulk, BulkRef{TagPath: path, VR: vr, Offset: h.valueOffset, Length: n})
			return &dicomjson.Element{VR: vr, BulkDataURI: path}, nil
		}
	}
	return p.decodeValue(h, val, cs), nil
}

// readSequence reads an SQ value (defined or undefined length) whose items
// are encoded explicitly or implicitly in byte order bo.
func (p *parser) readSequence(h elemHeader, depth int, path string, cs *charset, explicit bool, bo binary.ByteOrder) (*dicomjson.Element, error) {
	r := p.r
	saveBO, saveExp := p.bo, p.explicit
	p.bo, p.explicit = bo, explicit
	defer func() { p.bo, p.explicit = saveBO, saveExp }()
	var end int64 = -1
	if h.length != undefinedLength {
		end = h.valueOffset + int64(h.length)
		if rem := r.remaining(); rem >= 0 && int64(h.length) > rem {
			return nil, r.truncatedAt(int64(h.length)-rem, elemAt("sequence ", h.group, h.elem))
		}
	}
	el := &dicomjson.Element{VR: "SQ"}
	for i := 0; ; i++ {
		if end >= 0 {
			if r.pos == end {
				break
			}
			if r.pos > end {
				return nil, fmt.Errorf("%w: an item runs past the end of sequence %s (byte %d > %d)", ErrMalformed, tagName(h.group, h.elem), r.pos, end)
			}
		}
		if err := r.charge(); err != nil {
			return nil, err
		}
		b, err := r.small(8, elemAt("an item of sequence ", h.group, h.elem))
		if err != nil {
			return nil, err
		}
		g, e, l := bo.Uint16(b[0:2]), bo.Uint16(b[2:4]), bo.Uint32(b[4:8])
		if g == 0xFFFE && e == 0xE0DD {
			if end >= 0 {
				// Tolerated: a delimiter inside a defined-length sequence.
				continue
			}
			break
		}
		if g != 0xFFFE || e != 0xE000 {
			return nil, fmt.Errorf("%w: expected an Item in sequence %s at byte %d but found %s",
				ErrMalformed, tagName(h.group, h.elem), r.pos-8, tagName(g, e))
		}
		itemEnd := int64(-1)
		if l != undefinedLength {
			itemEnd = r.pos + int64(l)
			if end >= 0 && itemEnd > end {
				return nil, fmt.Errorf("%w: item %d of sequence %s at byte %d is longer than the sequence", ErrMalformed, i, tagName(h.group, h.elem), r.pos-8)
			}
		}
		item, err := p.readDataset(itemEnd, depth+1, fmt.Sprintf("%s.%d.", path, i), cs, false)
		if err != nil {
			return nil, err
		}
		el.Value = append(el.Value, item)
	}
	return el, nil
}

// tagKey formats group/element as 8 upper-case hex digits without fmt.
func tagKey(g, e uint16) string {
	const hexd = "0123456789ABCDEF"
	var b [8]byte
	v := uint32(g)<<16 | uint32(e)
	for i := 7; i >= 0; i-- {
		b[i] = hexd[v&0xF]
		v >>= 4
	}
	return string(b[:])
}

// tagName formats a tag the way technicians read it: (0010,0010).
func tagName(g, e uint16) string { return fmt.Sprintf("(%04X,%04X)", g, e) }

func valueStrings(vals []any) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

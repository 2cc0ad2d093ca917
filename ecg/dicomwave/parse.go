package dicomwave

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/huren-health/huren/ecg"
)

// A minimal, bounded DICOM dataset parser: enough of PS3.5 to walk the
// waveform module (sequences of any depth up to maxDepth, defined and
// undefined lengths, implicit/explicit VR, little/big endian, deflate).
// Waveform objects are small, so it works on an in-memory buffer whose size
// the caller has capped; every length is checked against what remains.

const (
	maxDepth    = 12
	maxElements = 200_000
)

type element struct {
	tag   uint32
	vr    string
	value []byte
	items []*dataset // for SQ
}

type dataset struct {
	elems []*element
}

func (d *dataset) get(tag uint32) *element {
	if d == nil {
		return nil
	}
	for _, e := range d.elems {
		if e.tag == tag {
			return e
		}
	}
	return nil
}

type parser struct {
	buf      []byte
	order    binary.ByteOrder
	explicit bool
	count    int
}

func errf(format string, a ...any) error {
	return fmt.Errorf("dicom: "+format+": %w", append(a, ecg.ErrFormat)...)
}

// longVR lists the explicit VRs with a reserved 2 bytes and a 4-byte length.
var longVR = map[string]bool{"OB": true, "OW": true, "OF": true, "SQ": true, "UT": true, "UN": true,
	"UC": true, "UR": true, "OD": true, "OL": true, "OV": true, "SV": true, "UV": true}

// implicitSQ are the sequence tags this reader descends into when the
// transfer syntax carries no VRs and the length is defined.
var implicitSQ = map[uint32]bool{
	0x54000100: true, 0x003A0200: true, 0x003A0208: true, 0x003A0211: true,
	0x0040B020: true, 0x0040A043: true, 0x004008EA: true, 0x00400555: true,
	0x0040A168: true, 0x003A0300: true, 0x003A0209: true, 0x003A0240: true,
}

const (
	tagItem      = 0xFFFEE000
	tagItemDelim = 0xFFFEE00D
	tagSeqDelim  = 0xFFFEE0DD
	undefined    = 0xFFFFFFFF
)

// parseFile parses a whole Part 10 file (or a bare implicit-LE dataset).
func parseFile(b []byte, maxInflated int64) (*dataset, binary.ByteOrder, error) {
	off := 0
	if len(b) >= 132 && string(b[128:132]) == "DICM" {
		off = 132
	} else if len(b) >= 4 && string(b[0:4]) == "DICM" {
		off = 4
	}
	ts := "1.2.840.10008.1.2"
	if off > 0 || (len(b) >= 6 && b[0] == 2 && b[1] == 0 && isUpper(b[4]) && isUpper(b[5])) {
		// File Meta group: always explicit VR little endian.
		p := &parser{buf: b, order: binary.LittleEndian, explicit: true}
		meta := &dataset{}
		pos := off
		for pos+8 <= len(b) && binary.LittleEndian.Uint16(b[pos:]) == 0x0002 {
			e, n, err := p.element(pos, 0)
			if err != nil {
				return nil, nil, fmt.Errorf("file meta: %w", err)
			}
			meta.elems = append(meta.elems, e)
			pos = n
		}
		if e := meta.get(0x00020010); e != nil {
			ts = str(e)
		}
		off = pos
	}
	body := b[off:]
	p := &parser{buf: body}
	switch ts {
	case "1.2.840.10008.1.2":
		p.order = binary.LittleEndian
	case "1.2.840.10008.1.2.1":
		p.order, p.explicit = binary.LittleEndian, true
	case "1.2.840.10008.1.2.2":
		p.order, p.explicit = binary.BigEndian, true
	case "1.2.840.10008.1.2.1.99":
		r := flate.NewReader(bytes.NewReader(body))
		var out bytes.Buffer
		n, err := io.Copy(&out, io.LimitReader(r, maxInflated+1))
		if err != nil {
			return nil, nil, fmt.Errorf("dicom: inflate: %v: %w", err, ecg.ErrFormat)
		}
		if n > maxInflated {
			return nil, nil, fmt.Errorf("dicom: inflated dataset over %d bytes: %w", maxInflated, ecg.ErrTooLarge)
		}
		p.buf = out.Bytes()
		p.order, p.explicit = binary.LittleEndian, true
	default:
		return nil, nil, fmt.Errorf("dicom: transfer syntax %q for a waveform: %w", ts, ecg.ErrUnsupported)
	}
	ds, _, err := p.dataset(0, len(p.buf), 0, false)
	return ds, p.order, err
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// dataset parses elements from pos up to end (or an item delimiter when
// untilDelim) and returns the position after it.
func (p *parser) dataset(pos, end, depth int, untilDelim bool) (*dataset, int, error) {
	if depth > maxDepth {
		return nil, 0, errf("sequences nested deeper than %d", maxDepth)
	}
	ds := &dataset{}
	for pos < end {
		if end-pos < 8 {
			if untilDelim {
				return nil, 0, fmt.Errorf("dicom: item without delimiter: %w", ecg.ErrTruncated)
			}
			// Trailing padding shorter than an element header is tolerated.
			return ds, end, nil
		}
		tag := p.tag(pos)
		if tag == tagItemDelim {
			return ds, pos + 8, nil
		}
		e, n, err := p.element(pos, depth)
		if err != nil {
			return nil, 0, err
		}
		ds.elems = append(ds.elems, e)
		pos = n
	}
	if untilDelim {
		return nil, 0, fmt.Errorf("dicom: item without delimiter: %w", ecg.ErrTruncated)
	}
	return ds, pos, nil
}

func (p *parser) tag(pos int) uint32 {
	return uint32(p.order.Uint16(p.buf[pos:]))<<16 | uint32(p.order.Uint16(p.buf[pos+2:]))
}

func (p *parser) element(pos, depth int) (*element, int, error) {
	p.count++
	if p.count > maxElements {
		return nil, 0, fmt.Errorf("dicom: more than %d elements: %w", maxElements, ecg.ErrTooLarge)
	}
	b := p.buf
	if len(b)-pos < 8 {
		return nil, 0, fmt.Errorf("dicom: element header at %d: %w", pos, ecg.ErrTruncated)
	}
	tag := p.tag(pos)
	e := &element{tag: tag}
	var length uint32
	group := tag >> 16
	explicit := p.explicit && group != 0xFFFE
	if explicit {
		e.vr = string(b[pos+4 : pos+6])
		if !isUpper(b[pos+4]) || !isUpper(b[pos+5]) {
			return nil, 0, errf("tag %08X: bad VR %q", tag, e.vr)
		}
		if longVR[e.vr] {
			if len(b)-pos < 12 {
				return nil, 0, fmt.Errorf("dicom: element header at %d: %w", pos, ecg.ErrTruncated)
			}
			length = p.order.Uint32(b[pos+8:])
			pos += 12
		} else {
			length = uint32(p.order.Uint16(b[pos+6:]))
			pos += 8
		}
	} else {
		length = p.order.Uint32(b[pos+4:])
		pos += 8
		if implicitSQ[tag] || (length == undefined && tag != 0x7FE00010 && tag != 0x54001010) {
			e.vr = "SQ"
		}
	}
	if e.vr == "SQ" || (e.vr == "UN" && length == undefined) {
		e.vr = "SQ"
		return p.sequence(e, pos, length, depth)
	}
	if length == undefined {
		return nil, 0, errf("tag %08X: undefined length on a non-sequence (encapsulated data is not a waveform)", tag)
	}
	if int64(length) > int64(len(b)-pos) {
		return nil, 0, fmt.Errorf("dicom: tag %08X declares %d bytes, %d remain: %w", tag, length, len(b)-pos, ecg.ErrTruncated)
	}
	e.value = b[pos : pos+int(length)]
	return e, pos + int(length), nil
}

func (p *parser) sequence(e *element, pos int, length uint32, depth int) (*element, int, error) {
	b := p.buf
	end := len(b)
	if length != undefined {
		if int64(length) > int64(len(b)-pos) {
			return nil, 0, fmt.Errorf("dicom: sequence %08X declares %d bytes, %d remain: %w", e.tag, length, len(b)-pos, ecg.ErrTruncated)
		}
		end = pos + int(length)
	}
	for {
		if pos >= end {
			if length == undefined {
				return nil, 0, fmt.Errorf("dicom: sequence %08X without delimiter: %w", e.tag, ecg.ErrTruncated)
			}
			return e, end, nil
		}
		if end-pos < 8 {
			return nil, 0, fmt.Errorf("dicom: sequence %08X item header: %w", e.tag, ecg.ErrTruncated)
		}
		tag := uint32(p.order.Uint16(b[pos:]))<<16 | uint32(p.order.Uint16(b[pos+2:]))
		il := p.order.Uint32(b[pos+4:])
		pos += 8
		switch tag {
		case tagSeqDelim:
			return e, pos, nil
		case tagItem:
		default:
			return nil, 0, errf("sequence %08X: expected item, found %08X", e.tag, tag)
		}
		var item *dataset
		var err error
		if il == undefined {
			item, pos, err = p.dataset(pos, end, depth+1, true)
		} else {
			if int64(il) > int64(end-pos) {
				return nil, 0, fmt.Errorf("dicom: item of %d bytes, %d remain: %w", il, end-pos, ecg.ErrTruncated)
			}
			item, _, err = p.dataset(pos, pos+int(il), depth+1, false)
			pos += int(il)
		}
		if err != nil {
			return nil, 0, err
		}
		e.items = append(e.items, item)
	}
}

// Value accessors. Missing or malformed values return zero values and
// ok=false; the caller decides whether that is fatal.

func str(e *element) string {
	if e == nil {
		return ""
	}
	return strings.TrimRight(string(e.value), " \x00")
}

func (p *parser) u16(e *element) (int, bool) {
	if e == nil || len(e.value) < 2 {
		return 0, false
	}
	return int(p.order.Uint16(e.value)), true
}

func (p *parser) u32(e *element) (int64, bool) {
	if e == nil || len(e.value) < 4 {
		return 0, false
	}
	return int64(p.order.Uint32(e.value)), true
}

// ds parses a Decimal String (first value).
func ds(e *element) (float64, bool) {
	s := str(e)
	if i := strings.IndexByte(s, '\\'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

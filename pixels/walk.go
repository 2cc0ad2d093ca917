package pixels

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// A minimal, bounded DICOM element walker. It does not interpret values
// beyond what pixel decoding and rendering need, and it keeps every value as
// a sub-slice of the input (no copies), so walking a 500 MB file costs a few
// map entries, not a second copy of the pixels.

const (
	tagItem          = 0xFFFEE000
	tagItemDelim     = 0xFFFEE00D
	tagSeqDelim      = 0xFFFEE0DD
	tagPixelData     = 0x7FE00010
	tagExtOffsets    = 0x7FE00001
	tagExtOffsetLens = 0x7FE00002
	undefinedLength  = 0xFFFFFFFF
	maxDepth         = 12
)

type element struct {
	vr  string
	val []byte
	// off is where val starts in the walked input and size its declared
	// length (Pixel Data read later from storage: ParseHeader).
	off, size int
	items     []dataset // sequences
	// fragments of encapsulated pixel data (first is the Basic Offset Table)
	fragments [][]byte
	// truncated marks a value cut short by the end of the input;
	// cutFragment that the last fragment itself is incomplete.
	truncated, cutFragment bool
}

type dataset map[uint32]*element

type walker struct {
	b         []byte
	bigEndian bool
	explicit  bool
}

func (w *walker) u16(p int) uint16 {
	if w.bigEndian {
		return binary.BigEndian.Uint16(w.b[p:])
	}
	return binary.LittleEndian.Uint16(w.b[p:])
}

func (w *walker) u32(p int) uint32 {
	if w.bigEndian {
		return binary.BigEndian.Uint32(w.b[p:])
	}
	return binary.LittleEndian.Uint32(w.b[p:])
}

func isLongVR(vr string) bool {
	switch vr {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		return true
	}
	return false
}

func validVR(b []byte) bool {
	return len(b) >= 2 && b[0] >= 'A' && b[0] <= 'Z' && b[1] >= 'A' && b[1] <= 'Z'
}

// header reads an element header at p: tag, VR ("" when implicit), value
// length and header size.
func (w *walker) header(p, end int) (tag uint32, vr string, length uint32, hl int, err error) {
	if p+8 > end {
		return 0, "", 0, 0, fmt.Errorf("element header at %d past end %d: %w", p, end, ErrCorrupt)
	}
	tag = uint32(w.u16(p))<<16 | uint32(w.u16(p+2))
	if tag>>16 == 0xFFFE || !w.explicit {
		return tag, "", w.u32(p + 4), 8, nil
	}
	if !validVR(w.b[p+4 : p+6]) {
		return 0, "", 0, 0, fmt.Errorf("invalid VR %q for (%04X,%04X) at %d: %w", w.b[p+4:p+6], tag>>16, tag&0xFFFF, p, ErrCorrupt)
	}
	vr = string(w.b[p+4 : p+6])
	if isLongVR(vr) {
		if p+12 > end {
			return 0, "", 0, 0, fmt.Errorf("element header at %d past end: %w", p, ErrCorrupt)
		}
		return tag, vr, w.u32(p + 8), 12, nil
	}
	return tag, vr, uint32(w.u16(p + 6)), 8, nil
}

// implicitSQ lists the sequences this package reads when they arrive in
// implicit VR with a defined length (undefined lengths are always walked).
var implicitSQ = map[uint32]bool{
	0x00283000: true, // Modality LUT Sequence
	0x00283010: true, // VOI LUT Sequence
	0x52009229: true, // Shared Functional Groups Sequence
	0x52009230: true, // Per-frame Functional Groups Sequence
	0x00289145: true, // Pixel Value Transformation Sequence
	0x00289132: true, // Frame VOI LUT Sequence
}

// dataset walks elements in [p,end). With inItem it stops after an Item
// Delimitation. At depth 0 it stops after Pixel Data (trailing padding is
// of no interest). It returns the position after the last element read.
func (w *walker) dataset(p, end, depth int, inItem bool) (dataset, int, error) {
	if depth > maxDepth {
		return nil, p, fmt.Errorf("sequences nested deeper than %d: %w", maxDepth, ErrCorrupt)
	}
	ds := dataset{}
	for p < end {
		if depth == 0 && end-p < 8 {
			break // trailing padding
		}
		tag, vr, length, hl, err := w.header(p, end)
		if err != nil {
			return ds, p, err
		}
		p += hl
		switch tag {
		case tagItemDelim:
			if inItem {
				return ds, p, nil
			}
			continue
		case tagSeqDelim, tagItem:
			if depth == 0 {
				continue // stray delimiter at top level: tolerate
			}
			return ds, p, fmt.Errorf("unexpected item tag (%08X) inside dataset: %w", tag, ErrCorrupt)
		}
		e := &element{vr: vr}
		if length == undefinedLength {
			switch {
			case tag == tagPixelData && depth == 0:
				p, err = w.encapsulated(e, p, end)
			case vr == "SQ" || vr == "" || vr == "UN":
				sub := w
				if vr == "UN" { // PS3.5 6.2.2: UN of undefined length is an implicit LE sequence
					sub = &walker{b: w.b, explicit: false}
				}
				e.vr = "SQ"
				e.items, p, err = sub.sequence(p, end, depth+1, -1)
			default:
				err = fmt.Errorf("undefined length on VR %s (%08X): %w", vr, tag, ErrCorrupt)
			}
			if err != nil {
				return ds, p, err
			}
			ds[tag] = e
			if tag == tagPixelData && depth == 0 {
				return ds, p, nil
			}
			continue
		}
		n := int(length)
		if int64(length) > int64(end-p) {
			e.truncated = true
			n = end - p
		}
		if vr == "SQ" || (vr == "" && implicitSQ[tag]) {
			e.vr = "SQ"
			if !e.truncated {
				e.items, _, err = w.sequence(p, p+n, depth+1, p+n)
				if err != nil {
					return ds, p, err
				}
			}
		} else {
			e.val, e.off, e.size = w.b[p:p+n], p, int(length)
		}
		ds[tag] = e
		p += n
		if tag == tagPixelData && depth == 0 {
			return ds, p, nil
		}
		if e.truncated {
			return ds, p, nil
		}
	}
	return ds, p, nil
}

// sequence reads items until a Sequence Delimitation (limit < 0) or the
// defined end limit.
func (w *walker) sequence(p, end, depth int, limit int) ([]dataset, int, error) {
	var items []dataset
	stop := end
	if limit >= 0 {
		stop = limit
	}
	for p < stop {
		tag, _, length, hl, err := w.header(p, stop)
		if err != nil {
			return items, p, err
		}
		p += hl
		switch tag {
		case tagSeqDelim:
			return items, p, nil
		case tagItem:
		default:
			return items, p, fmt.Errorf("expected item, found (%08X): %w", tag, ErrCorrupt)
		}
		if len(items) > 1<<20 {
			return items, p, fmt.Errorf("too many sequence items: %w", ErrCorrupt)
		}
		if length == undefinedLength {
			ds, np, err := w.dataset(p, stop, depth, true)
			if err != nil {
				return items, np, err
			}
			items = append(items, ds)
			p = np
			continue
		}
		if int64(length) > int64(stop-p) {
			return items, p, fmt.Errorf("item length %d past end: %w", length, ErrCorrupt)
		}
		ds, _, err := w.dataset(p, p+int(length), depth, false)
		if err != nil {
			return items, p, err
		}
		items = append(items, ds)
		p += int(length)
	}
	if limit < 0 {
		return items, p, fmt.Errorf("sequence without delimiter: %w", ErrCorrupt)
	}
	return items, p, nil
}

// encapsulated reads the fragments of encapsulated Pixel Data.
func (w *walker) encapsulated(e *element, p, end int) (int, error) {
	for {
		if p+8 > end {
			// Missing sequence delimiter: keep what was read; frame
			// assembly decides whether it is enough.
			e.truncated = true
			return end, nil
		}
		tag := uint32(w.u16(p))<<16 | uint32(w.u16(p+2))
		length := w.u32(p + 4)
		p += 8
		switch tag {
		case tagSeqDelim:
			return p, nil
		case tagItem:
		default:
			return p, fmt.Errorf("encapsulated pixel data: expected item, found (%08X) at %d: %w", tag, p-8, ErrCorrupt)
		}
		if length == undefinedLength {
			return p, fmt.Errorf("encapsulated fragment of undefined length: %w", ErrCorrupt)
		}
		n := int(length)
		if int64(length) > int64(end-p) {
			e.truncated, e.cutFragment = true, true
			n = end - p
		}
		e.fragments = append(e.fragments, w.b[p:p+n])
		p += n
		if e.truncated {
			return p, nil
		}
	}
}

// Value accessors. bigEndian tells how binary values are ordered.

func (ds dataset) str(tag uint32) string {
	e := ds[tag]
	if e == nil {
		return ""
	}
	return strings.Trim(string(e.val), " \x00")
}

func (ds dataset) strs(tag uint32) []string {
	s := ds.str(tag)
	if s == "" {
		return nil
	}
	parts := strings.Split(s, `\`)
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func (ds dataset) floats(tag uint32) []float64 {
	var out []float64
	for _, s := range ds.strs(tag) {
		f, err := strconv.ParseFloat(s, 64)
		if err == nil {
			out = append(out, f)
		}
	}
	return out
}

func (ds dataset) float(tag uint32, def float64) float64 {
	if f := ds.floats(tag); len(f) > 0 {
		return f[0]
	}
	return def
}

// integer reads a US/SS/UL value, or an IS string.
func (ds dataset) integer(tag uint32, bigEndian bool, def int) int {
	e := ds[tag]
	if e == nil || len(e.val) == 0 {
		return def
	}
	if e.vr == "IS" || e.vr == "DS" || (e.vr == "" && tag == 0x00280008) {
		f := ds.floats(tag)
		if len(f) == 0 {
			return def
		}
		return int(f[0])
	}
	switch len(e.val) {
	case 2:
		if bigEndian {
			return int(binary.BigEndian.Uint16(e.val))
		}
		return int(binary.LittleEndian.Uint16(e.val))
	case 4:
		if bigEndian {
			return int(binary.BigEndian.Uint32(e.val))
		}
		return int(binary.LittleEndian.Uint32(e.val))
	}
	if len(e.val) > 4 { // multi-valued US: first value
		if bigEndian {
			return int(binary.BigEndian.Uint16(e.val))
		}
		return int(binary.LittleEndian.Uint16(e.val))
	}
	return def
}

func (ds dataset) u16s(tag uint32, bigEndian bool) []uint16 {
	e := ds[tag]
	if e == nil {
		return nil
	}
	out := make([]uint16, len(e.val)/2)
	for i := range out {
		if bigEndian {
			out[i] = binary.BigEndian.Uint16(e.val[2*i:])
		} else {
			out[i] = binary.LittleEndian.Uint16(e.val[2*i:])
		}
	}
	return out
}

func (ds dataset) seq(tag uint32) []dataset {
	if e := ds[tag]; e != nil {
		return e.items
	}
	return nil
}

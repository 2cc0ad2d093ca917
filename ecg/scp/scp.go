// Package scp reads SCP-ECG files (EN 1064 / ISO 11073-91064, versions 1.x,
// 2.x and 3.0): section 0 pointers, section 1 demographics, section 2
// Huffman tables (default and custom, with table switching), section 3 lead
// definitions, sections 4/5 reference beat and QRS locations (reference-beat
// subtraction is undone), section 6 rhythm data with first/second
// difference encoding, and section 7 global measurements.
//
// Every offset and length is checked against the bytes actually present; the
// record-length field is not trusted (some devices write garbage there).
// Bimodal compression and differing reference-beat/rhythm sampling rates
// return ecg.ErrUnsupported. Read is safe for concurrent use.
package scp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/huren-health/huren/ecg"
)

// MaxFileBytes bounds the input.
const MaxFileBytes = 64 << 20

var le = binary.LittleEndian

// Sniff reports whether b looks like an SCP-ECG record: section 0's header
// at offset 6 names section 0 and, from version 1.3 on, carries "SCPECG".
func Sniff(b []byte) bool {
	if len(b) < 22 {
		return false
	}
	if string(b[16:22]) == "SCPECG" {
		return true
	}
	return le.Uint16(b[8:]) == 0 && le.Uint32(b[10:]) >= 16 && le.Uint32(b[10:]) < 4096 &&
		(b[14] == 10 || b[14] == 11 || b[14] == 12 || b[14] == 13 || b[14] == 20 || b[14] == 30) &&
		le.Uint16(b[22:]) == 0 // first pointer is to section 0
}

// Read parses an SCP-ECG record.
func Read(r io.Reader) (*ecg.Record, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("scp: read: %w", err)
	}
	if n > MaxFileBytes {
		return nil, fmt.Errorf("scp: file over %d bytes: %w", MaxFileBytes, ecg.ErrTooLarge)
	}
	return Parse(buf.Bytes())
}

type section struct {
	id   int
	data []byte // after the 16-byte section header
}

// Parse decodes an SCP-ECG record held in b.
func Parse(b []byte) (*ecg.Record, error) {
	if len(b) < 6+16+10 {
		return nil, fmt.Errorf("scp: %d bytes: %w", len(b), ecg.ErrTruncated)
	}
	secs, err := sections(b)
	if err != nil {
		return nil, err
	}
	rec := &ecg.Record{Format: ecg.FormatSCP}
	if s, ok := secs[1]; ok {
		readPatient(s.data, rec)
	}
	s3, ok := secs[3]
	if !ok {
		return nil, fmt.Errorf("scp: no section 3 (lead definitions): %w", ecg.ErrNoWaveform)
	}
	leads, subtracted, err := readLeads(s3.data)
	if err != nil {
		return nil, err
	}
	s6, ok := secs[6]
	if !ok {
		return nil, fmt.Errorf("scp: no section 6 (rhythm data): %w", ecg.ErrNoWaveform)
	}
	tables := [][]code{defaultTable}
	if s2, ok := secs[2]; ok {
		if tables, err = readHuffman(s2.data); err != nil {
			return nil, err
		}
	}
	rhythm, avm, interval, err := readData(s6.data, leads, tables, 6)
	if err != nil {
		return nil, err
	}
	if subtracted {
		s4, ok4 := secs[4]
		s5, ok5 := secs[5]
		if !ok4 || !ok5 {
			return nil, fmt.Errorf("scp: reference beat subtraction flagged without sections 4 and 5: %w", ecg.ErrFormat)
		}
		if err := addReferenceBeat(rhythm, avm, interval, s4.data, s5.data, leads, tables); err != nil {
			return nil, err
		}
	}
	rec.FS = 1e6 / float64(interval)
	scale := float64(avm) / 1000 // nV per unit -> µV
	for i, l := range leads {
		x := make([]float64, len(rhythm[i]))
		for j, v := range rhythm[i] {
			x[j] = float64(v) * scale
		}
		rec.Leads = append(rec.Leads, ecg.Lead{Name: leadName(l.id), Samples: x})
	}
	if s7, ok := secs[7]; ok {
		readMeasurements(s7.data, rec)
	}
	if err := rec.Validate(); err != nil {
		return nil, fmt.Errorf("scp: %w", err)
	}
	return rec, nil
}

// sections reads section 0's pointers. Indexes are 1-based per the standard;
// some devices write 0-based ones, recognised by the section header found there.
func sections(b []byte) (map[int]section, error) {
	hdrAt := func(off, id int) bool {
		return off >= 0 && off+16 <= len(b) && int(le.Uint16(b[off+2:])) == id
	}
	s0len := int(le.Uint32(b[10:]))
	if le.Uint16(b[8:]) != 0 || s0len < 16 {
		return nil, fmt.Errorf("scp: section 0 header not found at offset 6: %w", ecg.ErrFormat)
	}
	if s0len > len(b)-6 {
		return nil, fmt.Errorf("scp: section 0 declares %d bytes: %w", s0len, ecg.ErrTruncated)
	}
	out := map[int]section{}
	for p := 6 + 16; p+10 <= 6+s0len; p += 10 {
		id := int(le.Uint16(b[p:]))
		length := int64(le.Uint32(b[p+2:]))
		index := int64(le.Uint32(b[p+6:]))
		if length == 0 {
			continue
		}
		if index < 0 || index > int64(len(b)) || length > int64(len(b)) {
			return nil, fmt.Errorf("scp: section %d at %d, %d bytes, beyond the %d-byte file: %w", id, index, length, len(b), ecg.ErrTruncated)
		}
		off := int(index) - 1
		if !hdrAt(off, id) && hdrAt(off+1, id) {
			off++
		}
		if !hdrAt(off, id) {
			return nil, fmt.Errorf("scp: section %d header not found at %d: %w", id, index, ecg.ErrFormat)
		}
		// The section's own length field rules (the pointer may disagree).
		sl := int64(le.Uint32(b[off+4:]))
		if sl < 16 || int64(off)+sl > int64(len(b)) {
			return nil, fmt.Errorf("scp: section %d length %d at %d exceeds the %d-byte file: %w", id, sl, off, len(b), ecg.ErrTruncated)
		}
		out[id] = section{id: id, data: b[off+16 : off+int(sl)]}
	}
	return out, nil
}

type leadDef struct {
	start, end int // 1-based inclusive sample numbers
	id         int
}

func readLeads(d []byte) ([]leadDef, bool, error) {
	if len(d) < 2 {
		return nil, false, fmt.Errorf("scp: section 3: %w", ecg.ErrTruncated)
	}
	n, flags := int(d[0]), d[1]
	if n == 0 {
		return nil, false, fmt.Errorf("scp: section 3 defines no leads: %w", ecg.ErrNoWaveform)
	}
	if len(d) < 2+9*n {
		return nil, false, fmt.Errorf("scp: section 3 declares %d leads, holds %d: %w", n, (len(d)-2)/9, ecg.ErrTruncated)
	}
	leads := make([]leadDef, n)
	for i := range leads {
		p := 2 + 9*i
		leads[i] = leadDef{int(le.Uint32(d[p:])), int(le.Uint32(d[p+4:])), int(d[p+8])}
		l := leads[i]
		if l.start < 1 || l.end < l.start || l.end-l.start+1 > ecg.MaxSamplesPerLead {
			return nil, false, fmt.Errorf("scp: lead %d samples %d..%d: %w", i+1, l.start, l.end, ecg.ErrFormat)
		}
	}
	return leads, flags&1 != 0, nil
}

// leadName maps the SCP lead identification codes (EN 1064 table 5).
func leadName(id int) string {
	names := map[int]string{1: "I", 2: "II", 3: "V1", 4: "V2", 5: "V3", 6: "V4", 7: "V5", 8: "V6",
		9: "V7", 10: "V2R", 11: "V3R", 12: "V4R", 13: "V5R", 14: "V6R", 15: "V7R", 16: "X", 17: "Y", 18: "Z",
		61: "III", 62: "aVR", 63: "aVL", 64: "aVF", 65: "-aVR"}
	if s, ok := names[id]; ok {
		return s
	}
	return fmt.Sprintf("lead%d", id)
}

// readData decodes section 5 or 6: header, per-lead byte counts, Huffman
// streams, difference decoding. It returns integer samples per lead.
func readData(d []byte, leads []leadDef, tables [][]code, sec int) ([][]int64, int, int, error) {
	if len(d) < 6+2*len(leads) {
		return nil, 0, 0, fmt.Errorf("scp: section %d header: %w", sec, ecg.ErrTruncated)
	}
	avm := int(le.Uint16(d[0:]))
	interval := int(le.Uint16(d[2:]))
	diff := d[4]
	if sec == 6 && d[5] != 0 {
		return nil, 0, 0, fmt.Errorf("scp: section 6 bimodal compression: %w", ecg.ErrUnsupported)
	}
	if avm == 0 || interval == 0 {
		return nil, 0, 0, fmt.Errorf("scp: section %d amplitude multiplier %d nV, sample interval %d µs: %w", sec, avm, interval, ecg.ErrFormat)
	}
	if diff > 2 {
		return nil, 0, 0, fmt.Errorf("scp: section %d difference encoding %d: %w", sec, diff, ecg.ErrFormat)
	}
	p := 6 + 2*len(leads)
	out := make([][]int64, len(leads))
	for i, l := range leads {
		n := int(le.Uint16(d[6+2*i:]))
		if p+n > len(d) {
			return nil, 0, 0, fmt.Errorf("scp: section %d lead %d: %d bytes declared, %d remain: %w", sec, i+1, n, len(d)-p, ecg.ErrTruncated)
		}
		want := l.end - l.start + 1
		if sec == 5 {
			want = -1 // the reference beat length comes from section 4; decode what is there
		}
		v, err := decodeHuffman(d[p:p+n], tables, want)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("scp: section %d lead %d: %w", sec, i+1, err)
		}
		p += n
		undiff(v, diff)
		out[i] = v
	}
	if sec == 6 {
		n := len(out[0])
		for i := range out {
			if len(out[i]) != n {
				return nil, 0, 0, fmt.Errorf("scp: leads of different lengths (%d, %d): %w", n, len(out[i]), ecg.ErrUnsupported)
			}
		}
	}
	return out, avm, interval, nil
}

func undiff(v []int64, order byte) {
	switch order {
	case 1:
		for i := 1; i < len(v); i++ {
			v[i] += v[i-1]
		}
	case 2:
		for i := 2; i < len(v); i++ {
			v[i] += 2*v[i-1] - v[i-2]
		}
	}
}

// addReferenceBeat adds the decoded reference beat (section 5) back into the
// residual rhythm at every type-0 QRS listed in section 4, over the
// subtraction zone QRS start..end aligned on the fiducial.
func addReferenceBeat(rhythm [][]int64, avm6, interval6 int, s4, s5 []byte, leads []leadDef, tables [][]code) error {
	if len(s4) < 6 {
		return fmt.Errorf("scp: section 4: %w", ecg.ErrTruncated)
	}
	fid := int(le.Uint16(s4[2:]))
	nqrs := int(le.Uint16(s4[4:]))
	if len(s4) < 6+14*nqrs {
		return fmt.Errorf("scp: section 4 declares %d QRS: %w", nqrs, ecg.ErrTruncated)
	}
	ref, avm5, interval5, err := readData(s5, leads, tables, 5)
	if err != nil {
		return err
	}
	if interval5 != interval6 {
		return fmt.Errorf("scp: reference beat sampled every %d µs, rhythm every %d µs: %w", interval5, interval6, ecg.ErrUnsupported)
	}
	for q := 0; q < nqrs; q++ {
		p := 6 + 14*q
		typ := int(le.Uint16(s4[p:]))
		start, qf, end := int(le.Uint32(s4[p+2:])), int(le.Uint32(s4[p+6:])), int(le.Uint32(s4[p+10:]))
		if typ != 0 {
			continue
		}
		for li := range rhythm {
			// Clamp the zone to the rhythm and to the reference beat before
			// looping: the fields are untrusted 32-bit sample numbers.
			lo := max(start, 1, qf-fid+1)
			hi := min(end, len(rhythm[li]), qf-fid+len(ref[li]))
			for s := lo; s <= hi; s++ {
				ri := s - qf + fid // 1-based index into the reference beat
				// Reference beat values are in section 5's units.
				rhythm[li][s-1] += int64(math.Round(float64(ref[li][ri-1]) * float64(avm5) / float64(avm6)))
			}
		}
	}
	return nil
}

func readPatient(d []byte, rec *ecg.Record) {
	var last, first string
	var date, clock []byte
	for p := 0; p+3 <= len(d); {
		tag := d[p]
		n := int(le.Uint16(d[p+1:]))
		p += 3
		if tag == 255 || p+n > len(d) {
			break
		}
		v := d[p : p+n]
		p += n
		text := strings.TrimRight(string(v), "\x00 ")
		switch tag {
		case 0:
			last = text
		case 1:
			first = text
		case 2:
			rec.Patient.ID = text
		case 4:
			if n >= 3 && v[2] == 1 {
				rec.Patient.AgeYears = int(le.Uint16(v))
			}
		case 5:
			if n >= 4 && le.Uint16(v) > 0 {
				rec.Patient.BirthDate = fmt.Sprintf("%04d%02d%02d", le.Uint16(v), v[2], v[3])
			}
		case 8:
			if n >= 1 {
				switch v[0] {
				case 1:
					rec.Patient.Sex = "M"
				case 2:
					rec.Patient.Sex = "F"
				}
			}
		case 14:
			// Acquiring device: fixed fields then NUL-separated strings;
			// keep the printable tail (model / manufacturer).
			if n > 36 {
				parts := strings.FieldsFunc(string(v[35:]), func(r rune) bool { return r < 0x20 || r > 0x7e })
				rec.Device = strings.TrimSpace(strings.Join(parts, " "))
			}
		case 25:
			if n >= 4 {
				date = v
			}
		case 26:
			if n >= 3 {
				clock = v
			}
		}
	}
	rec.Patient.Name = strings.TrimSpace(first + " " + last)
	if date != nil {
		y, m, dd := int(le.Uint16(date)), int(date[2]), int(date[3])
		h, mi, s := 0, 0, 0
		if clock != nil {
			h, mi, s = int(clock[0]), int(clock[1]), int(clock[2])
		}
		if y > 1900 && m >= 1 && m <= 12 && dd >= 1 && dd <= 31 && h < 24 && mi < 60 && s < 61 {
			rec.Acquired = time.Date(y, time.Month(m), dd, h, mi, s, 0, time.UTC)
		}
	}
}

// readMeasurements reads section 7's global values for reference beat 0.
func readMeasurements(d []byte, rec *ecg.Record) {
	if len(d) < 6 {
		return
	}
	nbeat := int(d[0])
	rr, pp := le.Uint16(d[2:]), le.Uint16(d[4:])
	add := func(name string, v uint16, unit string) {
		if v != 29999 && v != 0xFFFF {
			rec.DeviceMeasurements = append(rec.DeviceMeasurements, ecg.DeviceMeasurement{Name: name, Value: float64(int16(v)), Unit: unit})
		}
	}
	add("RR Interval", rr, "ms")
	add("PP Interval", pp, "ms")
	if nbeat < 1 || len(d) < 6+16 {
		return
	}
	m := d[6:]
	pOn, pOff, qOn, qOff, tOff := le.Uint16(m[0:]), le.Uint16(m[2:]), le.Uint16(m[4:]), le.Uint16(m[6:]), le.Uint16(m[8:])
	ok := func(v uint16) bool { return v != 29999 && v != 0xFFFF }
	if ok(pOn) && ok(qOn) && qOn > pOn {
		add("PR Interval", qOn-pOn, "ms")
	}
	if ok(qOn) && ok(qOff) && qOff > qOn {
		add("QRS Duration", qOff-qOn, "ms")
	}
	if ok(qOn) && ok(tOff) && tOff > qOn {
		add("QT Interval", tOff-qOn, "ms")
	}
	if ok(pOn) && ok(pOff) && pOff > pOn {
		add("P Duration", pOff-pOn, "ms")
	}
	add("P Axis", le.Uint16(m[10:]), "deg")
	add("QRS Axis", le.Uint16(m[12:]), "deg")
	add("T Axis", le.Uint16(m[14:]), "deg")
}

package scp

import (
	"encoding/binary"
	"math"
	"testing"
)

// bitWriter writes MSB-first, the order decodeHuffman reads.
type bitWriter struct {
	b    []byte
	nbit int
}

func (w *bitWriter) put(v uint64, n int) {
	for k := n - 1; k >= 0; k-- {
		if w.nbit%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>uint(k)&1 == 1 {
			w.b[len(w.b)-1] |= 0x80 >> uint(w.nbit%8)
		}
		w.nbit++
	}
}

// encodeDefault Huffman-encodes values with the default table.
func encodeDefault(vals []int64) []byte {
	w := &bitWriter{}
	for _, v := range vals {
		done := false
		for _, c := range defaultTable[:17] {
			if int64(c.value) == v {
				for k := 0; k < c.prefix; k++ { // emit the LSB-first stored code
					w.put(uint64(c.bits>>uint(k)&1), 1)
				}
				done = true
				break
			}
		}
		if done {
			continue
		}
		esc, n := defaultTable[17], 8
		if v < -128 || v > 127 {
			esc, n = defaultTable[18], 16
		}
		for k := 0; k < esc.prefix; k++ {
			w.put(uint64(esc.bits>>uint(k)&1), 1)
		}
		w.put(uint64(v)&(1<<uint(n)-1), n)
	}
	return w.b
}

func diff(x []int64, order int) []int64 {
	d := make([]int64, len(x))
	for i := range x {
		switch {
		case order == 1 && i >= 1:
			d[i] = x[i] - x[i-1]
		case order == 2 && i >= 2:
			d[i] = x[i] - 2*x[i-1] + x[i-2]
		default:
			d[i] = x[i]
		}
	}
	return d
}

func mkSection(id int, body []byte) []byte {
	h := make([]byte, 16, 16+len(body))
	binary.LittleEndian.PutUint16(h[2:], uint16(id))
	binary.LittleEndian.PutUint32(h[4:], uint32(16+len(body)))
	h[8], h[9] = 20, 20
	if id == 0 {
		copy(h[10:], "SCPECG")
	}
	return append(h, body...)
}

// buildRefBeatSCP builds an SCP-ECG whose rhythm data is the residual after
// reference-beat subtraction (sections 4/5, second and first differences)
// and returns it with the original samples.
func buildRefBeatSCP() ([]byte, [][]int64) {
	const n, nLeads = 1000, 2
	refLen, fid := 100, 40 // reference beat: 100 samples, fiducial at sample 40 (1-based)
	ref := make([][]int64, nLeads)
	for l := range ref {
		ref[l] = make([]int64, refLen)
		for i := range ref[l] {
			d := float64(i+1-fid) / 6
			ref[l][i] = int64(math.Round(float64(800*(l+1)) * math.Exp(-d*d)))
		}
	}
	qrs := []int{150, 400, 650, 900} // fiducials, 1-based
	orig := make([][]int64, nLeads)
	resid := make([][]int64, nLeads)
	for l := range orig {
		orig[l] = make([]int64, n)
		for i := range orig[l] {
			orig[l][i] = int64(math.Round(60 * math.Sin(float64(i)/40)))
		}
		for _, q := range qrs {
			for k := 0; k < refLen; k++ {
				orig[l][q-fid+k] += ref[l][k] + int64(k%3) // beats differ slightly from the template
			}
		}
		resid[l] = append([]int64(nil), orig[l]...)
		for _, q := range qrs {
			for s := q - 30; s <= q+40; s++ { // subtraction zone, 1-based
				resid[l][s-1] -= ref[l][s-q+fid-1]
			}
		}
	}
	// Section 3: two leads, all samples, flag bit 0 = reference beat subtracted.
	s3 := []byte{nLeads, 0x01 | 0x04 | nLeads<<3}
	for _, id := range []byte{1, 2} {
		s3 = binary.LittleEndian.AppendUint32(s3, 1)
		s3 = binary.LittleEndian.AppendUint32(s3, n)
		s3 = append(s3, id)
	}
	// Section 4: reference beat length (ms), fiducial, QRS table.
	s4 := binary.LittleEndian.AppendUint16(nil, uint16(refLen*2))
	s4 = binary.LittleEndian.AppendUint16(s4, uint16(fid))
	s4 = binary.LittleEndian.AppendUint16(s4, uint16(len(qrs)))
	for _, q := range qrs {
		s4 = binary.LittleEndian.AppendUint16(s4, 0)
		s4 = binary.LittleEndian.AppendUint32(s4, uint32(q-30))
		s4 = binary.LittleEndian.AppendUint32(s4, uint32(q))
		s4 = binary.LittleEndian.AppendUint32(s4, uint32(q+40))
	}
	data := func(avm int, order int, leads [][]int64) []byte {
		b := binary.LittleEndian.AppendUint16(nil, uint16(avm))
		b = binary.LittleEndian.AppendUint16(b, 2000)
		b = append(b, byte(order), 0)
		var enc [][]byte
		for _, l := range leads {
			e := encodeDefault(diff(l, order))
			enc = append(enc, e)
			b = binary.LittleEndian.AppendUint16(b, uint16(len(e)))
		}
		for _, e := range enc {
			b = append(b, e...)
		}
		return b
	}
	s5 := data(1000, 1, ref)
	s6 := data(1000, 2, resid)
	s2 := binary.LittleEndian.AppendUint16(nil, 19999)
	bodies := map[int][]byte{2: s2, 3: s3, 4: s4, 5: s5, 6: s6}
	// Assemble: header, section 0 with pointers for ids 0..6, then sections.
	ptrLen := 7 * 10
	off := 6 + 16 + ptrLen + 1 // 1-based index of the first section after section 0
	var ptrs, rest []byte
	ptrs = binary.LittleEndian.AppendUint16(ptrs, 0)
	ptrs = binary.LittleEndian.AppendUint32(ptrs, uint32(16+ptrLen))
	ptrs = binary.LittleEndian.AppendUint32(ptrs, 7)
	for id := 1; id <= 6; id++ {
		b, ok := bodies[id]
		ptrs = binary.LittleEndian.AppendUint16(ptrs, uint16(id))
		if !ok {
			ptrs = binary.LittleEndian.AppendUint32(ptrs, 0)
			ptrs = binary.LittleEndian.AppendUint32(ptrs, 0)
			continue
		}
		sec := mkSection(id, b)
		ptrs = binary.LittleEndian.AppendUint32(ptrs, uint32(len(sec)))
		ptrs = binary.LittleEndian.AppendUint32(ptrs, uint32(off+len(rest)))
		rest = append(rest, sec...)
	}
	file := make([]byte, 6)
	file = append(file, mkSection(0, ptrs)...)
	file = append(file, rest...)
	binary.LittleEndian.PutUint32(file[2:], uint32(len(file)))
	return file, orig
}

// TestReferenceBeatSubtraction checks Parse restores the original samples
// of a reference-beat-subtracted record exactly.
func TestReferenceBeatSubtraction(t *testing.T) {
	file, orig := buildRefBeatSCP()
	rec, err := Parse(file)
	if err != nil {
		t.Fatal(err)
	}
	if rec.FS != 500 || len(rec.Leads) != 2 || rec.Leads[1].Name != "II" {
		t.Fatalf("fs %g leads %d", rec.FS, len(rec.Leads))
	}
	for l := range orig {
		for i, v := range orig[l] {
			if rec.Leads[l].Samples[i] != float64(v) {
				t.Fatalf("lead %d sample %d: %v, want %d", l, i, rec.Leads[l].Samples[i], v)
			}
		}
	}
}

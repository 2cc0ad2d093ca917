package dicomweb

import (
	"bytes"
	"io"
	"math/rand"
	"mime/multipart"
	"testing"
)

// TestReadPartsMutations complements FuzzReadParts with a deterministic
// stream of mutated bodies and boundaries (runs in every go test): the
// reader must terminate and never yield more bytes than the body holds.
func TestReadPartsMutations(t *testing.T) {
	seeds := []struct {
		b []byte
		s string
	}{
		{[]byte("--x\r\nContent-Type: application/dicom\r\n\r\nDICM\r\n--x--\r\n"), "x"},
		{[]byte("--x\r\n\r\n\r\n--x--"), "x"},
		{[]byte("--x\r\nContent-Type: application/dicom\r\n\r\nno end"), "x"},
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		sd := seeds[r.Intn(len(seeds))]
		b := bytes.Clone(sd.b)
		bd := sd.s
		for k := 0; k < 1+r.Intn(4); k++ {
			switch r.Intn(4) {
			case 0:
				if len(b) > 0 {
					b[r.Intn(len(b))] = byte(r.Intn(256))
				}
			case 1:
				if len(b) > 0 {
					j := r.Intn(len(b))
					b = append(b[:j], b[j+1:]...)
				}
			case 2:
				j := r.Intn(len(b) + 1)
				b = append(b[:j], append([]byte{"-\r\nx "[r.Intn(5)]}, b[j:]...)...)
			case 3:
				bd = string([]byte{"-\r\nx \x00"[r.Intn(6)]}) + bd
			}
		}
		total := int64(0)
		readParts(bytes.NewReader(b), bd, func(p *multipart.Part) error {
			n, err := io.Copy(io.Discard, p)
			total += n
			return err
		})
		if total > int64(len(b)) {
			t.Fatalf("body=%q boundary=%q: parts yielded %d bytes", b, bd, total)
		}
	}
}

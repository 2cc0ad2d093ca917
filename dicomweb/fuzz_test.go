package dicomweb

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/textproto"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadParts feeds arbitrary bodies and boundaries to the STOW multipart
// reader: it must never panic, and must either report an error or yield
// parts whose total size does not exceed the body.
func FuzzReadParts(f *testing.F) {
	files, _ := filepath.Glob("testdata/series/*.dcm")
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.SetBoundary("B0UNDARY")
	for _, p := range files[:2] {
		b, _ := os.ReadFile(p)
		w, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/dicom"}})
		w.Write(b[:512])
	}
	mw.Close()
	f.Add(buf.Bytes(), "B0UNDARY")
	f.Add([]byte("--x\r\nContent-Type: application/dicom\r\n\r\nDICM\r\n--x--\r\n"), "x")
	f.Add([]byte("--x\r\n\r\n\r\n--x--"), "x")
	f.Add([]byte(""), "x")
	f.Add([]byte("--x\r\nContent-Type: application/dicom\r\n\r\nno end"), "x")
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		total := int64(0)
		err := readParts(bytes.NewReader(body), boundary, func(p *multipart.Part) error {
			n, err := io.Copy(io.Discard, io.LimitReader(p, int64(len(body))+1))
			total += n
			if err != nil {
				return errors.Join(errPartType, err)
			}
			return nil
		})
		if total > int64(len(body)) {
			t.Fatalf("parts yielded %d bytes from a %d-byte body", total, len(body))
		}
		_ = err
	})
}

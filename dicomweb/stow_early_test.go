package dicomweb_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// A body (or part) that is not DICOM at all is refused from its first
// bytes: a 2 GB garbage upload used to be read to its end before the 409.
func TestSTOWStopsReadingGarbage(t *testing.T) {
	e := newEnv(t, memoryBackends, 0)
	garbage := bytes.Repeat([]byte("%PDF-1.7 garbage "), 1<<20) // 17 MiB
	const bound = 2 << 20                                       // read buffers, not the body

	single := &countingReader{r: bytes.NewReader(garbage)}
	rec := e.do("POST", "/dicom-web/studies", map[string]string{"Content-Type": "application/dicom", "Accept": "application/dicom+json"}, single)
	if rec.Code != http.StatusConflict || single.n > bound {
		t.Errorf("single part: status %d after reading %d of %d bytes", rec.Code, single.n, len(garbage))
	}

	ct, body := multipartBody(t, []part{dcm(garbage), dcm(readFile(t, seriesFiles(t)[0]))})
	multi := &countingReader{r: bytes.NewReader(body)}
	rec = e.do("POST", "/dicom-web/studies", map[string]string{"Content-Type": ct, "Accept": "application/dicom+json"}, multi)
	if rec.Code != http.StatusConflict || multi.n > bound || rec.Header().Get("Connection") != "close" {
		t.Errorf("multipart: status %d, Connection %q after reading %d of %d bytes", rec.Code, rec.Header().Get("Connection"), multi.n, len(body))
	}
}

package dicomfile

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/huren-health/huren/errkind"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic (Parse's
// recover would turn a panic into ErrMalformed with "internal parser error",
// which this target treats as a failure), must return typed errors, and every
// range it reports must lie inside the input.
func FuzzParse(f *testing.F) {
	filepath.WalkDir("testdata/corpus/dicom", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
		return nil
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, size := range []int64{int64(len(data)), -1} {
			file, err := Parse(bytes.NewReader(data), size, Options{MaxHeaderBytes: 1 << 20, MaxInflatedBytes: 4 << 20, BulkThreshold: 64})
			if err != nil {
				if errkind.Of(err) == errkind.Other {
					t.Fatalf("untyped error: %v", err)
				}
				if bytes.Contains([]byte(err.Error()), []byte("internal parser error")) {
					t.Fatalf("panic: %v", err)
				}
				continue
			}
			if _, err := json.Marshal(file.Dataset); err != nil {
				t.Fatalf("dataset does not marshal: %v", err)
			}
			_ = Validate(file)
			if file.Deflated {
				continue // offsets refer to the inflated stream
			}
			for _, b := range file.Bulk {
				if b.Offset < 0 || b.Length < 0 || b.Offset+b.Length > int64(len(data)) {
					t.Fatalf("bulk %+v outside %d bytes", b, len(data))
				}
			}
			if file.Pixels != nil {
				for i, fr := range file.Pixels.Frames {
					for _, r := range fr {
						if r.Offset < 0 || r.Length < 0 || r.Offset+r.Length > int64(len(data)) {
							t.Fatalf("frame %d range %+v outside %d bytes", i, r, len(data))
						}
					}
				}
			}
		}
	})
}

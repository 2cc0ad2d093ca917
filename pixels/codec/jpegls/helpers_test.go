package jpegls

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/huren-health/huren/pixels"
)

// corpusRoots are the shared corpus (developer machines and CI) and the
// lean subset that is always in the repository.
var corpusRoots = []string{"../../../../shared/testdata", "../../testdata"}

// corpusFile finds rel (e.g. dicom/ts/x.dcm) in the first root that has it.
func corpusFile(t testing.TB, rel string) (string, bool) {
	t.Helper()
	for _, r := range corpusRoots {
		p := filepath.Join(r, rel)
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// dicomFrame parses a DICOM file and returns frame n's codestream and the
// header's image description.
func dicomFrame(t testing.TB, path string, n int) ([]byte, pixels.Info) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := pixels.Parse(b, pixels.Limits{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	raw, err := img.RawFrame(n)
	if err != nil {
		t.Fatalf("%s frame %d: %v", path, n, err)
	}
	return raw, img.Info
}

// ctSlice is the 512×512 16-bit lossless CT slice of the benchmarks.
const ctSlice = "dicom/ts/CT1_UNC.fragmented_bot_jpeg_ls.80.dcm"

func benchDecode(b *testing.B, dec pixels.Decoder) {
	p, ok := corpusFile(b, ctSlice)
	if !ok {
		b.Skipf("%s not in the shared corpus", ctSlice)
	}
	raw, info := dicomFrame(b, p, 1)
	b.SetBytes(info.FrameBytes())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := dec.Decode(raw, info); err != nil {
			b.Fatal(err)
		}
	}
}

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

// benchFiles are the other shapes benchmarked side by side: RGB in the
// three interleave modes, near-lossless CT, a small multi-frame MR.
var benchFiles = []string{
	"dicom/edge/JLSL_RGB_ILV0.dcm",
	"dicom/edge/JLSL_RGB_ILV1.dcm",
	"dicom/edge/JLSL_RGB_ILV2.dcm",
	"dicom/ts/CT0012.fragmented_no_bot_jpeg_ls.81.dcm",
	"dicom/modality/emri_small_jpeg_ls_lossless.dcm",
}

func benchFilesDecode(b *testing.B, dec pixels.Decoder) {
	for _, rel := range benchFiles {
		b.Run(filepath.Base(rel), func(b *testing.B) { benchDecode(b, dec, rel) })
	}
}

func benchDecode(b *testing.B, dec pixels.Decoder, rel string) {
	p, ok := corpusFile(b, rel)
	if !ok {
		b.Skipf("%s not in the corpus", rel)
	}
	raw, info := dicomFrame(b, p, 1)
	b.SetBytes(info.FrameBytes())
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := dec.Decode(raw, info); err != nil {
			b.Fatal(err)
		}
	}
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	}
}

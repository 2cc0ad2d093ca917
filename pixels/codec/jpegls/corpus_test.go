package jpegls

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/huren-health/huren/pixels"
)

// TestCorpus decodes frame 1 of every JPEG-LS file of the DICOM corpus and
// compares it with dcmtk's decode bit for bit — also for near-lossless
// files: the decoder is deterministic, so "within NEAR of the original"
// is checked by the fixtures and exactness against dcmtk here.
func TestCorpus(t *testing.T) {
	seen := map[string]bool{}
	found := 0
	for _, root := range corpusRoots {
		files, _ := filepath.Glob(filepath.Join(root, "dicom", "*", "*"))
		for _, path := range files {
			rel, _ := filepath.Rel(root, path)
			if seen[rel] {
				continue
			}
			seen[rel] = true
			if st, err := os.Stat(path); err != nil || st.IsDir() {
				continue
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			img, err := pixels.Parse(b, pixels.Limits{})
			if err != nil || (img.TransferSyntax != pixels.JPEGLSLossless && img.TransferSyntax != pixels.JPEGLSNearLossless) {
				continue
			}
			found++
			t.Run(rel, func(t *testing.T) {
				var o struct {
					DCMTK struct {
						SHA string `json:"frame1_sha256"`
					} `json:"pixels_dcmtk"`
				}
				ob, err := os.ReadFile(filepath.Join(root, "expected", rel+".json"))
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(ob, &o); err != nil || o.DCMTK.SHA == "" {
					t.Fatalf("no dcmtk oracle: %v", err)
				}
				raw, err := img.RawFrame(1)
				if err != nil {
					t.Fatal(err)
				}
				f, err := Decoder{}.Decode(raw, img.Info)
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(f.Data)
				if h := hex.EncodeToString(sum[:]); h != o.DCMTK.SHA {
					t.Errorf("frame 1 sha256 %s, dcmtk %s", h[:12], o.DCMTK.SHA[:12])
				}
				for n := 2; n <= img.Frames; n++ {
					raw, err := img.RawFrame(n)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := (Decoder{}).Decode(raw, img.Info); err != nil {
						t.Errorf("frame %d: %v", n, err)
					}
				}
			})
		}
	}
	if found < 2 { // the lean subset alone has two
		t.Fatalf("only %d JPEG-LS files in the corpus", found)
	}
}

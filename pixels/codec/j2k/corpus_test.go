package j2k

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/huren-health/huren/pixels"
)

// corpusFrame is one JPEG 2000 / HTJ2K codestream from the test corpus
// with the header info the dataset gives it.
type corpusFrame struct {
	name string
	src  []byte
	info pixels.Info
}

var j2kSyntaxes = map[string]bool{
	pixels.JPEG2000Lossless: true, pixels.JPEG2000: true,
	pixels.HTJ2KLossless: true, pixels.HTJ2KLosslessRPCL: true, pixels.HTJ2K: true,
}

var (
	framesOnce sync.Once
	frames     []corpusFrame
)

// corpusFrames extracts every J2K/HTJ2K frame (at most 4 per file) of the
// shared corpus and the lean pixels/testdata subset, valid or not, by
// letting pixels.DecodeFrame hand them to a recording decoder.
func corpusFrames(tb testing.TB) []corpusFrame {
	tb.Helper()
	framesOnce.Do(func() {
		seen := map[string]bool{}
		for _, root := range []string{"../../../../shared/testdata", "../../testdata"} {
			for _, dir := range []string{"dicom/ts", "dicom/modality", "dicom/edge", "dicom/malformed"} {
				files, _ := filepath.Glob(filepath.Join(root, dir, "*"))
				for _, path := range files {
					name := dir + "/" + filepath.Base(path)
					if seen[name] {
						continue
					}
					seen[name] = true
					b, err := os.ReadFile(path)
					if err != nil {
						continue
					}
					img, err := pixels.Parse(b, pixels.Limits{})
					if err != nil || !j2kSyntaxes[img.TransferSyntax] {
						continue
					}
					for n := 1; n <= img.Frames && n <= 4; n++ {
						rec := pixels.DecoderFunc(func(src []byte, info pixels.Info) (*pixels.Frame, error) {
							frames = append(frames, corpusFrame{name: name, src: append([]byte(nil), src...), info: info})
							return nil, pixels.ErrCodecUnavailable
						})
						reg := pixels.Registry{img.TransferSyntax: rec}
						_, _ = img.DecodeFrame(n, reg)
					}
				}
			}
		}
	})
	if len(frames) == 0 {
		tb.Skip("no JPEG 2000 files in the corpus")
	}
	return frames
}

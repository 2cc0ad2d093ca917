package pixels_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/huren-health/huren/pixels"
	"github.com/huren-health/huren/pixels/codec"
)

// FuzzParse: Parse, ParseHeader and DecodeFrame never panic (a recovered panic shows up
// as an error mentioning "panic" and fails), and every error is typed.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "dicom", "*", "*"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil && len(b) < 200<<10 {
			f.Add(b)
		}
	}
	reg := codec.Registry()
	lim := pixels.Limits{MaxFrameBytes: 4 << 20, MaxFrames: 64, MaxInflated: 8 << 20}
	f.Fuzz(func(t *testing.T, b []byte) {
		whole, wholeErr := pixels.Parse(b, lim)
		// ParseHeader on a prefix and on the whole file: typed errors, and
		// when it accepts, it agrees with Parse and stays inside the file.
		for _, n := range []int{len(b) / 3, len(b)} {
			h, err := pixels.ParseHeader(b[:n], int64(len(b)), lim)
			if err != nil {
				if !errors.Is(err, pixels.ErrNeedMore) && !errors.Is(err, pixels.ErrNotStreamable) {
					t.Fatalf("ParseHeader: untyped error %v", err)
				}
				continue
			}
			if wholeErr != nil || h.Info != whole.Info {
				t.Fatalf("ParseHeader accepted %+v, Parse: %+v, %v", h.Info, whole, wholeErr)
			}
			for fr := 1; fr <= h.Frames; fr++ {
				off, size, err := h.NativeFrameRange(fr)
				if err != nil || off < 0 || off+size > int64(len(b)) {
					t.Fatalf("frame %d range %d+%d of %d: %v", fr, off, size, len(b), err)
				}
			}
		}
		img, err := whole, wholeErr
		if err != nil {
			check(t, err)
			return
		}
		for n := 1; n <= img.Frames && n <= 2; n++ {
			if _, err := img.DecodeFrame(n, reg); err != nil {
				check(t, err)
			}
		}
	})
}

func check(t *testing.T, err error) {
	t.Helper()
	for _, e := range []error{pixels.ErrNotDICOM, pixels.ErrNoPixelData, pixels.ErrCorrupt, pixels.ErrUnsupportedSyntax, pixels.ErrCodecUnavailable, pixels.ErrTooLarge, pixels.ErrFrameRange} {
		if errors.Is(err, e) {
			if errors.Is(err, pixels.ErrCorrupt) && containsPanic(err.Error()) {
				t.Fatalf("recovered panic: %v", err)
			}
			return
		}
	}
	t.Fatalf("untyped error: %v", err)
}

func containsPanic(s string) bool {
	for i := 0; i+5 <= len(s); i++ {
		if s[i:i+5] == "panic" {
			return true
		}
	}
	return false
}

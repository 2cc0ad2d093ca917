package pixels_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/huren-health/huren/pixels"
)

// TestParseHeader: for every test file and many prefix lengths, ParseHeader
// either asks for more bytes, declines, or returns exactly what Parse of the
// whole file says, with NativeFrameRange pointing at RawFrame's bytes.
func TestParseHeader(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "dicom", "*", "*"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	streamable := map[string]bool{ // native little endian, byte-aligned frames
		"CT1_UNC.explicit_little_endian.dcm": true, "CT_small.dcm": true, "MR_small.dcm": true,
		"CR-MONO1-10-chest": true, "emri_small.dcm": true, "mlut_18.dcm": true, "vlut_04.dcm": true,
		"SC_rgb_small_odd.dcm": true, "color-pl.dcm": true, "SC_ybr_full_422_uncompressed.dcm": true,
	}
	for _, p := range paths {
		name := filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			whole, wholeErr := pixels.Parse(b, pixels.Limits{})
			got := false
			for _, n := range prefixLengths(len(b)) {
				img, err := pixels.ParseHeader(b[:n], int64(len(b)), pixels.Limits{})
				if err != nil {
					if !errors.Is(err, pixels.ErrNeedMore) && !errors.Is(err, pixels.ErrNotStreamable) {
						t.Fatalf("prefix %d: untyped error %v", n, err)
					}
					if errors.Is(err, pixels.ErrNeedMore) && n == len(b) {
						t.Fatalf("whole file: asks for more: %v", err)
					}
					continue
				}
				got = true
				if wholeErr != nil {
					t.Fatalf("prefix %d accepted, Parse of the whole file fails: %v", n, wholeErr)
				}
				if img.Info != whole.Info || !reflect.DeepEqual(img.Display, whole.Display) || !reflect.DeepEqual(img.PerFrame, whole.PerFrame) || img.SOPInstanceUID != whole.SOPInstanceUID {
					t.Fatalf("prefix %d: header %+v differs from Parse %+v", n, img.Info, whole.Info)
				}
				for f := 1; f <= img.Frames; f++ {
					off, size, err := img.NativeFrameRange(f)
					if err != nil {
						t.Fatal(err)
					}
					raw, err := whole.RawFrame(f)
					if err != nil {
						t.Fatal(err)
					}
					if off+size > int64(len(b)) || !bytes.Equal(b[off:off+size], raw) {
						t.Fatalf("prefix %d: frame %d range %d+%d is not RawFrame's bytes", n, f, off, size)
					}
				}
				if _, err := img.RawFrame(1); !errors.Is(err, pixels.ErrNotStreamable) {
					t.Errorf("RawFrame of a header-only image: %v", err)
				}
				// The result must not alias the prefix (callers reuse it).
				clear(b[:n])
				if img.Info != whole.Info || !reflect.DeepEqual(img.Display, whole.Display) {
					t.Fatalf("prefix %d: header changed when the prefix was overwritten", n)
				}
				copy(b, mustRead(t, p))
			}
			if got != streamable[name] {
				t.Errorf("streamable = %v, want %v", got, streamable[name])
			}
		})
	}
	if _, err := pixels.ParseHeader(make([]byte, 10), 5, pixels.Limits{}); !errors.Is(err, pixels.ErrNotStreamable) {
		t.Errorf("prefix longer than the file: %v", err)
	}
}

func prefixLengths(size int) []int {
	var out []int
	for n := 0; n < size && n < 4096; n += 7 {
		out = append(out, n)
	}
	for n := 4096; n < size; n *= 2 {
		out = append(out, n)
	}
	return append(out, size)
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

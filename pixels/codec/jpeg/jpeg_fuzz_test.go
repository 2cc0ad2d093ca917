package jpeg

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/huren-health/huren/pixels"
)

func seedFrames(tb testing.TB, names ...string) [][2]any {
	var out [][2]any
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dicom", name))
		if err != nil {
			continue
		}
		img, err := pixels.Parse(b, pixels.Limits{})
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		raw, err := img.RawFrame(1)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		out = append(out, [2]any{raw, img.Info})
	}
	return out
}

// FuzzLossless: the hand-written lossless decoder returns a frame of the
// declared size or a typed error for any codestream, never a panic or hang.
// The header geometry is the one of the seed (the decoder checks the
// codestream against it before allocating).
func FuzzLossless(f *testing.F) {
	seeds := seedFrames(f, "modality/mr_t1w_jpegll_multifragment_5001001.dcm", "ts/SC_rgb_jpeg_gdcm.dcm", "ts/CT0012.fragmented_no_bot_jpeg_lossless.57.dcm")
	for i, s := range seeds {
		f.Add(s[0].([]byte), uint8(i))
	}
	if len(seeds) == 0 {
		f.Skip("no seed files")
	}
	f.Fuzz(func(t *testing.T, src []byte, which uint8) {
		info := seeds[int(which)%len(seeds)][1].(pixels.Info)
		fr, err := Lossless{}.Decode(src, info)
		if err != nil {
			if !errors.Is(err, pixels.ErrCorrupt) && !errors.Is(err, pixels.ErrUnsupportedSyntax) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if int64(len(fr.Data)) != info.FrameBytes() {
			t.Fatalf("frame of %d bytes, want %d", len(fr.Data), info.FrameBytes())
		}
	})
}

// FuzzBaseline exercises the image/jpeg wrapper and SOF scanning.
func FuzzBaseline(f *testing.F) {
	seeds := seedFrames(f, "ts/SC_rgb_jpeg_dcmtk.dcm", "ts/SC_jpeg_no_color_transform.dcm", "ts/JPGExtended.dcm")
	for i, s := range seeds {
		f.Add(s[0].([]byte), uint8(i))
	}
	if len(seeds) == 0 {
		f.Skip("no seed files")
	}
	f.Fuzz(func(t *testing.T, src []byte, which uint8) {
		info := seeds[int(which)%len(seeds)][1].(pixels.Info)
		_, err := Extended{}.Decode(src, info)
		if err != nil && !errors.Is(err, pixels.ErrCorrupt) && !errors.Is(err, pixels.ErrCodecUnavailable) && !errors.Is(err, pixels.ErrUnsupportedSyntax) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

package jpegls

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/huren-health/huren/pixels"
)

// FuzzDecode feeds mutated codestreams to Decode with a DICOM header that
// agrees with the codestream's SOF (so the fuzzer reaches the scan
// decoder) or, when the first byte is odd, one that disagrees. Decode must
// return a typed error or a frame of the header's size — never panic or
// hang. Seeds: every fixture and the first frame of each corpus file.
func FuzzDecode(f *testing.F) {
	for _, fx := range fixtures {
		if b, err := os.ReadFile(filepath.Join("testdata", fx.name+".jls")); err == nil {
			f.Add(b)
		}
	}
	for _, rel := range []string{"dicom/modality/emri_small_jpeg_ls_lossless.dcm", "dicom/edge/JLSL_RGB_ILV2.dcm", "dicom/ts/CT0012.fragmented_no_bot_jpeg_ls.81.dcm"} {
		if p, ok := corpusFile(f, rel); ok {
			raw, _ := dicomFrame(f, p, 1)
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		info := fuzzInfo(src)
		if info.FrameBytes() > 1<<18 {
			return // keep each run fast; the size bound is pixels.Limits' job
		}
		fr, err := Decoder{}.Decode(src, info)
		if err != nil {
			if strings.Contains(err.Error(), "panic") || (!errors.Is(err, pixels.ErrCorrupt) && !errors.Is(err, pixels.ErrUnsupportedSyntax)) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if int64(len(fr.Data)) != info.FrameBytes() {
			t.Fatalf("%d bytes for a %d-byte frame", len(fr.Data), info.FrameBytes())
		}
	})
}

// fuzzInfo derives a DICOM header from the first SOF55 in src.
func fuzzInfo(src []byte) pixels.Info {
	info := pixels.Info{Rows: 8, Columns: 8, Frames: 1, SamplesPerPixel: 1, BitsAllocated: 8, BitsStored: 8, Photometric: "MONOCHROME2"}
	for p := 0; p+11 < len(src); p++ {
		if src[p] != 0xFF || src[p+1] != mSOF55 {
			continue
		}
		s := src[p+4:]
		info.Rows, info.Columns = int(binary.BigEndian.Uint16(s[1:])), int(binary.BigEndian.Uint16(s[3:]))
		info.Rows, info.Columns = max(info.Rows, 1), max(info.Columns, 1)
		if s[5] == 3 {
			info.SamplesPerPixel, info.Photometric = 3, "RGB"
		}
		if s[0] > 8 {
			info.BitsAllocated, info.BitsStored = 16, min(int(s[0]), 16)
		}
		break
	}
	if len(src) > 0 && src[0]&1 == 1 { // a lying header
		info.Rows++
	}
	return info
}

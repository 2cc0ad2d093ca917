package rle

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/huren-health/huren/pixels"
)

func encodeSegment(b []byte) []byte { // literal runs only; enough for seeds
	var out []byte
	for len(b) > 0 {
		n := min(len(b), 128)
		out = append(out, byte(n-1))
		out = append(out, b[:n]...)
		b = b[n:]
	}
	return out
}

// frame builds an RLE frame of 8-bit samples.
func frame(planes ...[]byte) []byte {
	hdr := make([]byte, 64)
	binary.LittleEndian.PutUint32(hdr, uint32(len(planes)))
	body := []byte{}
	for i, p := range planes {
		binary.LittleEndian.PutUint32(hdr[4+4*i:], uint32(64+len(body)))
		body = append(body, encodeSegment(p)...)
	}
	return append(hdr, body...)
}

func TestDecode(t *testing.T) {
	info := pixels.Info{Rows: 2, Columns: 2, Frames: 1, SamplesPerPixel: 1, BitsAllocated: 16, BitsStored: 16, Photometric: "MONOCHROME2"}
	// High bytes segment first, then low bytes.
	f, err := Decoder{}.Decode(frame([]byte{1, 0, 0, 0xFF}, []byte{2, 3, 4, 0xFE}), info)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{2, 1, 3, 0, 4, 0, 0xFE, 0xFF}
	if string(f.Data) != string(want) {
		t.Errorf("got % x, want % x", f.Data, want)
	}
	// A replicate run: -3 → 4 copies.
	src := frame([]byte{0})
	src = append(src[:64], 0xFD, 7)
	info = pixels.Info{Rows: 2, Columns: 2, Frames: 1, SamplesPerPixel: 1, BitsAllocated: 8, BitsStored: 8}
	if f, err = (Decoder{}).Decode(src, info); err != nil || string(f.Data) != "\x07\x07\x07\x07" {
		t.Errorf("replicate run: %v, %v", f, err)
	}
	for name, bad := range map[string][]byte{
		"short header":  {1, 0, 0, 0},
		"segment count": frame([]byte{1, 2, 3, 4}, []byte{1, 2, 3, 4}),
		"short segment": frame([]byte{1, 2}),
	} {
		if _, err := (Decoder{}).Decode(bad, info); !errors.Is(err, pixels.ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzDecode: any bytes and any (bounded) geometry give a frame of the
// declared size or ErrCorrupt, never a panic.
func FuzzDecode(f *testing.F) {
	f.Add(frame([]byte{1, 2, 3, 4}), uint8(2), uint8(2), uint8(8), true)
	f.Add(frame([]byte{1, 0, 0, 0xFF}, []byte{2, 3, 4, 0xFE}), uint8(2), uint8(2), uint8(16), true)
	for _, name := range []string{"modality/SC_rgb_rle_16bit_2frame.dcm", "modality/OBXXXX1A_rle_2frame.dcm", "ts/D_CLUNIE_CT1_RLE_FRAGS.dcm"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dicom", name)); err == nil {
			if img, err := pixels.Parse(b, pixels.Limits{}); err == nil {
				if raw, err := img.RawFrame(1); err == nil && len(raw) < 1<<16 {
					f.Add(raw, uint8(min(img.Rows, 255)), uint8(min(img.Columns, 255)), uint8(img.BitsAllocated), img.SamplesPerPixel == 1)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte, rows, cols, bits uint8, mono bool) {
		spp := 3
		if mono {
			spp = 1
		}
		b := []int{8, 16, 32}[int(bits)%3]
		info := pixels.Info{Rows: int(rows), Columns: int(cols), Frames: 1, SamplesPerPixel: spp, BitsAllocated: b, BitsStored: b}
		if info.Validate(pixels.Limits{}) != nil {
			return
		}
		fr, err := Decoder{}.Decode(src, info)
		if err != nil {
			if !errors.Is(err, pixels.ErrCorrupt) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if int64(len(fr.Data)) != info.FrameBytes() {
			t.Fatalf("frame of %d bytes, want %d", len(fr.Data), info.FrameBytes())
		}
	})
}

package render_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/huren-health/huren/pixels"
	"github.com/huren-health/huren/pixels/codec"
	"github.com/huren-health/huren/pixels/render"
)

// BenchmarkCTCold: parse + decode + render + JPEG encode of a 512×512
// 16-bit CT slice from its file bytes (what a cache miss costs).
func BenchmarkCTCold(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "dicom", "modality", "CT1_UNC.explicit_little_endian.dcm"))
	if err != nil {
		b.Fatal(err)
	}
	reg := codec.Registry()
	p := render.Params{Window: &pixels.Window{Center: 40, Width: 400}}
	b.ReportAllocs()
	for b.Loop() {
		img, err := pixels.Parse(raw, pixels.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		f, err := img.DecodeFrame(1, reg)
		if err != nil {
			b.Fatal(err)
		}
		im, err := render.Render(f, img.Display, p)
		if err != nil {
			b.Fatal(err)
		}
		if err := render.Encode(io.Discard, im, p); err != nil {
			b.Fatal(err)
		}
	}
}

// syntheticDX is a 2500×3000 (columns×rows) 14-bit DX-like frame.
func syntheticDX() (*pixels.Frame, pixels.Display) {
	const w, h = 2500, 3000
	f := &pixels.Frame{Rows: h, Columns: w, SamplesPerPixel: 1, BitsAllocated: 16, BitsStored: 14, Photometric: "MONOCHROME1", Data: make([]byte, w*h*2)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := (x*7 + y*3 + (x*y)%97) % 16384
			binary.LittleEndian.PutUint16(f.Data[2*(y*w+x):], uint16(v))
		}
	}
	return f, pixels.Display{RescaleSlope: 1, Windows: []pixels.Window{{Center: 8192, Width: 12000}}}
}

// BenchmarkDXPreview: 2500×3000 16-bit DX → 512-pixel JPEG preview
// (decoded frame given; the pipeline and resize are what is measured).
func BenchmarkDXPreview(b *testing.B) {
	f, d := syntheticDX()
	p := render.Params{Width: 512, Height: 512, Quality: 85}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		im, err := render.Render(f, d, p)
		if err != nil {
			b.Fatal(err)
		}
		if err := render.Encode(&buf, im, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDXFullJPEG: the same DX rendered at full size as JPEG.
func BenchmarkDXFullJPEG(b *testing.B) {
	f, d := syntheticDX()
	p := render.Params{Quality: 90}
	for b.Loop() {
		im, err := render.Render(f, d, p)
		if err != nil {
			b.Fatal(err)
		}
		if err := render.Encode(io.Discard, im, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDXEncodeJPEG: only the JPEG encoding of the rendered
// 2500×3000 grey image (quality 90, Orthanc's default too).
func BenchmarkDXEncodeJPEG(b *testing.B) { benchDXEncode(b, render.Params{Quality: 90}) }

// BenchmarkDXEncodePNG: only the PNG encoding of the same image.
func BenchmarkDXEncodePNG(b *testing.B) { benchDXEncode(b, render.Params{Format: "image/png"}) }

// benchDXEncode times only the encoding of the rendered synthetic DX.
func benchDXEncode(b *testing.B, p render.Params) {
	f, d := syntheticDX()
	im, err := render.Render(f, d, p)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := render.Encode(io.Discard, im, p); err != nil {
			b.Fatal(err)
		}
	}
}

package render_test

import (
	"bytes"
	"fmt"
	"os"

	"github.com/huren-health/huren/pixels"
	"github.com/huren-health/huren/pixels/codec"
	"github.com/huren-health/huren/pixels/render"
)

// Parse a file, decode frame 1 with the build's codecs, render it with a
// soft-tissue window into a 256-pixel JPEG preview.
func Example() {
	b, err := os.ReadFile("../testdata/dicom/modality/CT1_UNC.explicit_little_endian.dcm")
	if err != nil {
		fmt.Println(err)
		return
	}
	img, err := pixels.Parse(b, pixels.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := img.DecodeFrame(1, codec.Registry())
	if err != nil {
		fmt.Println(err)
		return
	}
	p := render.Params{Window: &pixels.Window{Center: 40, Width: 400}, Width: 256, Height: 256, Quality: 85}
	im, err := render.Render(f, img.FrameDisplay(1), p)
	if err != nil {
		fmt.Println(err)
		return
	}
	var out bytes.Buffer
	if err := render.Encode(&out, im, p); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(img.Rows, img.Columns, img.BitsStored, img.Signed(), im.Bounds().Dx(), im.Bounds().Dy())
	// Output: 512 512 16 true 256 256
}

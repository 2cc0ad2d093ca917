package jpeg

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"strings"

	"github.com/huren-health/huren/pixels"
)

// Baseline decodes JPEG Baseline (Process 1) 8-bit frames with image/jpeg.
type Baseline struct{}

var _ pixels.Decoder = Baseline{}

// Decode decodes one baseline JPEG codestream.
func (Baseline) Decode(src []byte, info pixels.Info) (*pixels.Frame, error) {
	cfg, err := stdjpeg.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("jpeg baseline header: %v: %w", err, pixels.ErrCorrupt)
	}
	// A codestream smaller than the header happens for the right/bottom
	// edge tiles of whole-slide images: decode into the top-left corner
	// and leave the rest zero, as dcmtk does. Larger is corrupt.
	if cfg.Width > info.Columns || cfg.Height > info.Rows || cfg.Width == 0 || cfg.Height == 0 {
		return nil, fmt.Errorf("jpeg baseline: codestream %d×%d, header %d×%d: %w", cfg.Width, cfg.Height, info.Columns, info.Rows, pixels.ErrCorrupt)
	}
	im, err := stdjpeg.Decode(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("jpeg baseline: %v: %w", err, pixels.ErrCorrupt)
	}
	ybr := strings.HasPrefix(info.Photometric, "YBR")
	photo := info.Photometric
	if ybr {
		photo = "RGB"
	}
	out := info
	out.BitsStored = min(info.BitsStored, 8)
	f := pixels.NewFrame(out, photo)
	w, h := cfg.Width, cfg.Height
	stride := info.Columns
	put := func(i int, v byte) {
		if f.BitsAllocated == 16 {
			binary.LittleEndian.PutUint16(f.Data[2*i:], uint16(v))
		} else {
			f.Data[i] = v
		}
	}
	switch m := im.(type) {
	case *image.Gray:
		if info.SamplesPerPixel != 1 {
			return nil, fmt.Errorf("jpeg baseline: grey codestream for %d samples: %w", info.SamplesPerPixel, pixels.ErrCorrupt)
		}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				put(y*stride+x, v)
			}
		}
	case *image.YCbCr:
		if info.SamplesPerPixel != 3 {
			return nil, fmt.Errorf("jpeg baseline: colour codestream for %d samples: %w", info.SamplesPerPixel, pixels.ErrCorrupt)
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi, ci := m.YOffset(x, y), m.COffset(x, y)
				a, b, c := m.Y[yi], m.Cb[ci], m.Cr[ci]
				if ybr {
					a, b, c = color.YCbCrToRGB(a, b, c)
				}
				o := (y*stride + x) * 3
				put(o, a)
				put(o+1, b)
				put(o+2, c)
			}
		}
	case *image.RGBA:
		if info.SamplesPerPixel != 3 {
			return nil, fmt.Errorf("jpeg baseline: colour codestream for %d samples: %w", info.SamplesPerPixel, pixels.ErrCorrupt)
		}
		f.Photometric = "RGB"
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				s := m.Pix[y*m.Stride+4*x:]
				o := (y*stride + x) * 3
				put(o, s[0])
				put(o+1, s[1])
				put(o+2, s[2])
			}
		}
	default:
		return nil, fmt.Errorf("jpeg baseline: unsupported colour model %T: %w", im, pixels.ErrCorrupt)
	}
	return f, nil
}

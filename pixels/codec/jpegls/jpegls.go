package jpegls

import (
	"encoding/binary"

	"github.com/huren-health/huren/pixels"
)

// Decoder decodes JPEG-LS frames.
type Decoder struct{}

var _ pixels.Decoder = Decoder{}

// finish converts CharLS output (planar for interleave mode none, native
// little endian samples) to Frame layout in the dataset's Bits Allocated.
func finish(tmp *pixels.Frame, info pixels.Info, ilv int) *pixels.Frame {
	px := info.Rows * info.Columns
	bps := tmp.BitsAllocated / 8
	if info.SamplesPerPixel == 3 && ilv == 0 {
		inter := make([]byte, len(tmp.Data))
		for s := 0; s < 3; s++ {
			for i := 0; i < px; i++ {
				copy(inter[(i*3+s)*bps:(i*3+s+1)*bps], tmp.Data[(s*px+i)*bps:(s*px+i+1)*bps])
			}
		}
		tmp.Data = inter
	}
	if tmp.BitsAllocated == info.BitsAllocated {
		return tmp
	}
	out := pixels.NewFrame(info, tmp.Photometric)
	n := px * info.SamplesPerPixel
	for i := 0; i < n; i++ {
		v := uint16(tmp.Data[i]) // 8-bit samples in a 16-bit container
		binary.LittleEndian.PutUint16(out.Data[2*i:], v)
	}
	return out
}

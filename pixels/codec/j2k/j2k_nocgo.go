//go:build !cgo

package j2k

import (
	"fmt"

	"github.com/huren-health/huren/pixels"
)

// Available reports whether this build has the codec.
const Available = false

// Decode always fails: this build has no cgo, hence no OpenJPEG.
func (Decoder) Decode(src []byte, info pixels.Info) (*pixels.Frame, error) {
	return nil, fmt.Errorf("JPEG 2000 needs OpenJPEG (build with cgo and libopenjp2-7-dev): %w", pixels.ErrCodecUnavailable)
}

//go:build !cgo

package jpegls

import (
	"fmt"

	"github.com/huren-health/huren/pixels"
)

// Available reports whether this build has the codec.
const Available = false

// Decode always fails: this build has no cgo, hence no CharLS.
func (Decoder) Decode(src []byte, info pixels.Info) (*pixels.Frame, error) {
	return nil, fmt.Errorf("JPEG-LS needs CharLS (build with cgo and libcharls-dev): %w", pixels.ErrCodecUnavailable)
}

package j2k

import (
	"context"
	"fmt"
	"strings"

	"github.com/huren-health/huren/pixels"
)

// Available reports whether this build has the codec: always, since the
// default decoder is pure Go plus an embedded WebAssembly module.
const Available = true

// Decoder decodes JPEG 2000 and HTJ2K frames.
type Decoder struct{}

var _ pixels.Decoder = Decoder{}

// Decode decodes one JPEG 2000 / HTJ2K codestream into Frame layout. It
// gives up after DecodeTimeout.
func (d Decoder) Decode(src []byte, info pixels.Info) (*pixels.Frame, error) {
	return d.DecodeContext(context.Background(), src, info)
}

// outPhotometric: OpenJPEG undoes the RCT/ICT, so those come out RGB.
func outPhotometric(p string) string {
	switch p {
	case "YBR_RCT", "YBR_ICT":
		return "RGB"
	}
	return p
}

// Result codes shared by both glues (wasm/glue.c and j2k_openjpeg.go).
const (
	rcOK = iota
	rcHeader
	rcGeometry
	rcDecode
	rcLayout
	rcNoMemory
)

func j2kError(rc int, msg string, info pixels.Info) error {
	switch rc {
	case rcGeometry:
		return fmt.Errorf("jpeg 2000: codestream geometry disagrees with the header (%d×%d×%d): %w", info.Columns, info.Rows, info.SamplesPerPixel, pixels.ErrCorrupt)
	case rcLayout:
		return fmt.Errorf("jpeg 2000: subsampled or reduced components are not supported: %w", pixels.ErrCorrupt)
	case rcNoMemory:
		return fmt.Errorf("jpeg 2000: %d×%d×%d frame: decoder memory exhausted: %w", info.Columns, info.Rows, info.SamplesPerPixel, pixels.ErrTooLarge)
	}
	msg = strings.TrimSpace(msg)
	if msg == "" {
		msg = "decode failed"
	}
	return fmt.Errorf("jpeg 2000: openjpeg: %s: %w", msg, pixels.ErrCorrupt)
}

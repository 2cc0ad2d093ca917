//go:build !(cgo && huren_openjpeg)

package j2k

import (
	"context"

	"github.com/huren-health/huren/pixels"
)

// DecodeContext decodes one JPEG 2000 / HTJ2K codestream into Frame layout
// with the embedded WebAssembly build of OpenJPEG. It stops when ctx is
// done or after DecodeTimeout, whichever comes first.
func (Decoder) DecodeContext(ctx context.Context, src []byte, info pixels.Info) (*pixels.Frame, error) {
	return decodeWasm(ctx, src, info)
}

// Package codec assembles the decoders of every encapsulated transfer
// syntax Huren reads into one pixels.Registry, with an explicit list (no
// init registration), keyed by transfer syntax UID.
package codec

import (
	"github.com/huren-health/huren/pixels"
	"github.com/huren-health/huren/pixels/codec/j2k"
	"github.com/huren-health/huren/pixels/codec/jpeg"
	"github.com/huren-health/huren/pixels/codec/jpegls"
	"github.com/huren-health/huren/pixels/codec/rle"
)

// Registry returns the decoders of every build: all pure Go (JPEG-LS in
// Go, JPEG 2000/HTJ2K as OpenJPEG compiled to WebAssembly run by wazero),
// so CGO_ENABLED=0 and cross-compiled binaries decode everything.
func Registry() pixels.Registry {
	return pixels.Registry{
		pixels.RLELossless:        rle.Decoder{},
		pixels.JPEGBaseline:       jpeg.Baseline{},
		pixels.JPEGExtended:       jpeg.Extended{},
		pixels.JPEGLossless:       jpeg.Lossless{},
		pixels.JPEGLosslessSV1:    jpeg.Lossless{},
		pixels.JPEGLSLossless:     jpegls.Decoder{},
		pixels.JPEGLSNearLossless: jpegls.Decoder{},
		pixels.JPEG2000Lossless:   j2k.Decoder{},
		pixels.JPEG2000:           j2k.Decoder{},
		pixels.HTJ2KLossless:      j2k.Decoder{},
		pixels.HTJ2KLosslessRPCL:  j2k.Decoder{},
		pixels.HTJ2K:              j2k.Decoder{},
	}
}

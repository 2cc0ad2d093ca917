package pixels

import (
	"fmt"

	"github.com/huren-health/huren/errkind"
)

// Errors callers match with errors.Is. Each carries an errkind so the HTTP
// layer maps it to a status without knowing this package.
var (
	// ErrNotDICOM: the bytes are not a DICOM dataset this package can walk.
	ErrNotDICOM = errkind.New(errkind.Invalid, "pixels: not a DICOM dataset")
	// ErrNoPixelData: the dataset has no (7FE0,0010) Pixel Data, or lacks the
	// attributes (Rows, Columns, Bits Allocated…) needed to interpret it.
	ErrNoPixelData = errkind.New(errkind.NotFound, "pixels: no pixel data")
	// ErrCorrupt: the pixel data or codestream is inconsistent with itself
	// or with the header (short data, bad codestream, wrong geometry).
	ErrCorrupt = errkind.New(errkind.Unprocessable, "pixels: corrupt pixel data")
	// ErrUnsupportedSyntax: no decoder exists for the transfer syntax. The
	// wrapping error names the syntax. Maps to 415 through errkind; the web
	// layer turns it into 406 where the client asked for a decoded
	// representation.
	ErrUnsupportedSyntax = errkind.New(errkind.Unsupported, "pixels: unsupported transfer syntax")
	// ErrCodecUnavailable: the syntax is known but no decoder is registered
	// for it (a Registry assembled without that codec). The default
	// registry (pixels/codec) decodes every syntax in pure Go.
	ErrCodecUnavailable = errkind.New(errkind.Unsupported, "pixels: codec not available in this build")
	// ErrTooLarge: the declared image is above Limits.
	ErrTooLarge = errkind.New(errkind.TooLarge, "pixels: image exceeds decode limits")
	// ErrFrameRange: a frame number outside 1..NumberOfFrames.
	ErrFrameRange = errkind.New(errkind.NotFound, "pixels: frame number out of range")
	// ErrNeedMore: ParseHeader's prefix ends before Pixel Data; read more
	// of the file and call it again.
	ErrNeedMore = errkind.New(errkind.Invalid, "pixels: header continues past the bytes given")
	// ErrNotStreamable: ParseHeader cannot locate the frames without the
	// whole file (encapsulated, deflated, big endian, 1-bit, inconsistent
	// or malformed); use Parse.
	ErrNotStreamable = errkind.New(errkind.Unsupported, "pixels: pixel data cannot be streamed")
)

// Transfer syntax UIDs this package knows by name.
const (
	ImplicitVRLittleEndian = "1.2.840.10008.1.2"
	ExplicitVRLittleEndian = "1.2.840.10008.1.2.1"
	DeflatedExplicitVRLE   = "1.2.840.10008.1.2.1.99"
	ExplicitVRBigEndian    = "1.2.840.10008.1.2.2"
	DeflatedImageFrame     = "1.2.840.10008.1.2.8.1"
	JPEGBaseline           = "1.2.840.10008.1.2.4.50"
	JPEGExtended           = "1.2.840.10008.1.2.4.51"
	JPEGLossless           = "1.2.840.10008.1.2.4.57"
	JPEGLosslessSV1        = "1.2.840.10008.1.2.4.70"
	JPEGLSLossless         = "1.2.840.10008.1.2.4.80"
	JPEGLSNearLossless     = "1.2.840.10008.1.2.4.81"
	JPEG2000Lossless       = "1.2.840.10008.1.2.4.90"
	JPEG2000               = "1.2.840.10008.1.2.4.91"
	HTJ2KLossless          = "1.2.840.10008.1.2.4.201"
	HTJ2KLosslessRPCL      = "1.2.840.10008.1.2.4.202"
	HTJ2K                  = "1.2.840.10008.1.2.4.203"
	RLELossless            = "1.2.840.10008.1.2.5"
)

// IsNative reports whether ts stores pixels uncompressed (after any
// whole-dataset deflate).
func IsNative(ts string) bool {
	switch ts {
	case ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLE, ExplicitVRBigEndian:
		return true
	}
	return false
}

// IsLossy reports whether ts may have lost information (tests use a
// tolerance for these).
func IsLossy(ts string) bool {
	switch ts {
	case JPEGBaseline, JPEGExtended, JPEGLSNearLossless, JPEG2000, HTJ2K:
		return true
	}
	return false
}

// Info is the image description from the dataset (group 0028 + transfer
// syntax).
type Info struct {
	TransferSyntax      string
	Rows, Columns       int
	Frames              int // Number of Frames, 1 when absent
	SamplesPerPixel     int
	BitsAllocated       int
	BitsStored          int
	HighBit             int
	PixelRepresentation int // 0 unsigned, 1 two's complement
	PlanarConfiguration int
	Photometric         string
}

// Signed reports two's-complement stored values.
func (i Info) Signed() bool { return i.PixelRepresentation == 1 }

// FrameBytes is the size of one decoded frame in Frame.Data layout.
func (i Info) FrameBytes() int64 {
	bps := int64(i.BitsAllocated+7) / 8
	if i.BitsAllocated == 1 {
		bps = 1
	}
	return int64(i.Rows) * int64(i.Columns) * int64(i.SamplesPerPixel) * bps
}

// Validate checks the description is self-consistent and within limits,
// before anything is allocated from it.
func (i Info) Validate(lim Limits) error {
	lim = lim.withDefaults()
	if i.Rows <= 0 || i.Columns <= 0 {
		return fmt.Errorf("rows %d × columns %d: %w", i.Rows, i.Columns, ErrNoPixelData)
	}
	switch i.BitsAllocated {
	case 1, 8, 16, 32:
	default:
		return fmt.Errorf("bits allocated %d: %w", i.BitsAllocated, ErrCorrupt)
	}
	if i.BitsStored <= 0 || i.BitsStored > i.BitsAllocated {
		return fmt.Errorf("bits stored %d of %d allocated: %w", i.BitsStored, i.BitsAllocated, ErrCorrupt)
	}
	if i.SamplesPerPixel != 1 && i.SamplesPerPixel != 3 {
		return fmt.Errorf("samples per pixel %d: %w", i.SamplesPerPixel, ErrCorrupt)
	}
	if i.Frames <= 0 {
		return fmt.Errorf("number of frames %d: %w", i.Frames, ErrCorrupt)
	}
	if fb := i.FrameBytes(); fb > lim.MaxFrameBytes {
		return fmt.Errorf("frame of %d bytes over limit %d: %w", fb, lim.MaxFrameBytes, ErrTooLarge)
	}
	if int64(i.Frames) > lim.MaxFrames {
		return fmt.Errorf("%d frames over limit %d: %w", i.Frames, lim.MaxFrames, ErrTooLarge)
	}
	return nil
}

// Limits bound what a decode may allocate. Zero fields take defaults.
type Limits struct {
	// MaxFrameBytes caps one decoded frame (default 512 MiB: a 16-bit
	// 16k×16k slide tile is 512 MiB).
	MaxFrameBytes int64
	// MaxFrames caps Number of Frames (default 100000).
	MaxFrames int64
	// MaxInflated caps a deflated dataset after inflation (default 256
	// MiB: deflate expands up to ~1000:1, so a small upload could
	// otherwise claim gigabytes).
	MaxInflated int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxFrameBytes <= 0 {
		l.MaxFrameBytes = 512 << 20
	}
	if l.MaxFrames <= 0 {
		l.MaxFrames = 100000
	}
	if l.MaxInflated <= 0 {
		l.MaxInflated = 256 << 20
	}
	return l
}

// Frame is one decoded frame. See the package doc for the Data layout.
type Frame struct {
	Rows, Columns   int
	SamplesPerPixel int
	// BitsAllocated of Data's samples: 8, 16 or 32 (1-bit input is
	// unpacked to 8).
	BitsAllocated int
	// BitsStored and Signed describe the meaningful low bits of each sample.
	BitsStored int
	Signed     bool
	// Photometric after decoding: a JPEG baseline YBR image comes out RGB,
	// a J2K YBR_ICT/RCT image comes out RGB, native YBR_FULL_422 comes out
	// YBR_FULL (upsampled, not converted).
	Photometric string
	Data        []byte
}

// Size is the frame's memory footprint in bytes (for cache budgets).
func (f *Frame) Size() int64 { return int64(len(f.Data)) + 128 }

// Decoder decodes one frame's codestream. info is what the dataset header
// says; a decoder checks the codestream against it (dimensions, components,
// precision) and fails with ErrCorrupt on disagreement rather than
// allocating from codestream fields alone. Implementations are stateless and
// safe for concurrent use.
type Decoder interface {
	Decode(src []byte, info Info) (*Frame, error)
}

// DecoderFunc adapts a function to Decoder.
type DecoderFunc func(src []byte, info Info) (*Frame, error)

// Decode calls f.
func (f DecoderFunc) Decode(src []byte, info Info) (*Frame, error) { return f(src, info) }

// Registry maps transfer syntax UIDs of encapsulated syntaxes to decoders.
// Native syntaxes need no entry. Build one with pixels/codec.Registry.
type Registry map[string]Decoder

// NewFrame allocates an output frame for info after checking its size
// against lim; decoders use it so every allocation is bounded.
func NewFrame(info Info, photometric string) *Frame {
	bits := info.BitsAllocated
	if bits == 1 {
		bits = 8
	}
	return &Frame{
		Rows: info.Rows, Columns: info.Columns, SamplesPerPixel: info.SamplesPerPixel,
		BitsAllocated: bits, BitsStored: info.BitsStored, Signed: info.Signed(),
		Photometric: photometric,
		Data:        make([]byte, info.FrameBytes()),
	}
}

package pixels

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
)

// DecodeFrame decodes 1-based frame n: native syntaxes here, Deflated Image
// Frame Compression here (stdlib flate per frame), every other syntax
// through reg. An unknown syntax fails with ErrUnsupportedSyntax naming it.
func (img *Image) DecodeFrame(n int, reg Registry) (f *Frame, err error) {
	defer func() {
		if r := recover(); r != nil { // codecs are fuzzed; this is the last line of defence
			f, err = nil, fmt.Errorf("decode frame %d (%s): panic %v: %w", n, img.TransferSyntax, r, ErrCorrupt)
		}
	}()
	raw, err := img.RawFrame(n)
	if err != nil {
		return nil, err
	}
	if !img.encapsulated {
		return decodeNative(raw, img.Info, img.bigEndian)
	}
	if img.TransferSyntax == DeflatedImageFrame {
		want := nativeBytes(Info{Rows: img.Rows, Columns: img.Columns, Frames: 1, SamplesPerPixel: img.SamplesPerPixel, BitsAllocated: img.BitsAllocated, Photometric: img.Photometric})
		r := flate.NewReader(bytes.NewReader(raw))
		buf := make([]byte, want)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("inflate frame %d: %v: %w", n, err, ErrCorrupt)
		}
		return decodeNative(buf, img.Info, false)
	}
	dec, ok := reg[img.TransferSyntax]
	if !ok {
		return nil, fmt.Errorf("%s (%s): %w", SyntaxName(img.TransferSyntax), img.TransferSyntax, ErrUnsupportedSyntax)
	}
	f, err = dec.Decode(raw, img.Info)
	if err != nil {
		return nil, fmt.Errorf("decode frame %d of %s (%s): %w", n, img.SOPInstanceUID, SyntaxName(img.TransferSyntax), err)
	}
	if int64(len(f.Data)) != img.FrameBytes() && !(img.SamplesPerPixel == 3 && f.SamplesPerPixel == 3) {
		return nil, fmt.Errorf("decoder returned %d bytes, want %d: %w", len(f.Data), img.FrameBytes(), ErrCorrupt)
	}
	return f, nil
}

// SyntaxName is a human name for a transfer syntax UID (for errors).
func SyntaxName(ts string) string {
	switch ts {
	case ImplicitVRLittleEndian:
		return "Implicit VR Little Endian"
	case ExplicitVRLittleEndian:
		return "Explicit VR Little Endian"
	case DeflatedExplicitVRLE:
		return "Deflated Explicit VR Little Endian"
	case ExplicitVRBigEndian:
		return "Explicit VR Big Endian"
	case DeflatedImageFrame:
		return "Deflated Image Frame Compression"
	case JPEGBaseline:
		return "JPEG Baseline (Process 1)"
	case JPEGExtended:
		return "JPEG Extended (Process 2 & 4)"
	case JPEGLossless:
		return "JPEG Lossless (Process 14)"
	case JPEGLosslessSV1:
		return "JPEG Lossless SV1"
	case JPEGLSLossless:
		return "JPEG-LS Lossless"
	case JPEGLSNearLossless:
		return "JPEG-LS Near-Lossless"
	case JPEG2000Lossless:
		return "JPEG 2000 Lossless"
	case JPEG2000:
		return "JPEG 2000"
	case HTJ2KLossless:
		return "HTJ2K Lossless"
	case HTJ2KLosslessRPCL:
		return "HTJ2K Lossless RPCL"
	case HTJ2K:
		return "HTJ2K"
	case RLELossless:
		return "RLE Lossless"
	}
	return "transfer syntax " + ts
}

// decodeNative converts one native frame (as stored) to Frame layout:
// little endian, interleaved, 1-bit unpacked, 4:2:2 upsampled.
func decodeNative(raw []byte, info Info, bigEndian bool) (*Frame, error) {
	photo := info.Photometric
	switch photo {
	case "YBR_FULL_422":
		photo = "YBR_FULL"
	case "YBR_PARTIAL_422":
		photo = "YBR_PARTIAL"
	}
	f := NewFrame(info, photo)
	px := info.Rows * info.Columns
	spp := info.SamplesPerPixel
	switch {
	case info.BitsAllocated == 1:
		for i := range f.Data {
			f.Data[i] = raw[i/8] >> (i % 8) & 1
		}
	case info.Photometric == "YBR_FULL_422" || info.Photometric == "YBR_PARTIAL_422":
		if info.BitsAllocated != 8 || spp != 3 {
			return nil, fmt.Errorf("4:2:2 with %d bits, %d samples: %w", info.BitsAllocated, spp, ErrCorrupt)
		}
		// Y1 Y2 Cb Cr per pixel pair, rows padded to even width.
		for y := 0; y < info.Rows; y++ {
			for x := 0; x < info.Columns; x++ {
				pair := (y*info.Columns + x) / 2
				src := raw[pair*4:]
				o := (y*info.Columns + x) * 3
				f.Data[o] = src[(y*info.Columns+x)%2]
				f.Data[o+1] = src[2]
				f.Data[o+2] = src[3]
			}
		}
	case spp == 3 && info.PlanarConfiguration == 1:
		bps := info.BitsAllocated / 8
		for s := 0; s < 3; s++ {
			plane := raw[s*px*bps:]
			for i := 0; i < px; i++ {
				copy(f.Data[(i*3+s)*bps:(i*3+s+1)*bps], plane[i*bps:(i+1)*bps])
			}
		}
	default:
		copy(f.Data, raw)
	}
	if bigEndian && info.BitsAllocated > 8 {
		swapBytes(f.Data, info.BitsAllocated/8)
	}
	return f, nil
}

func swapBytes(b []byte, width int) {
	switch width {
	case 2:
		for i := 0; i+1 < len(b); i += 2 {
			b[i], b[i+1] = b[i+1], b[i]
		}
	case 4:
		for i := 0; i+3 < len(b); i += 4 {
			b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
		}
	}
}

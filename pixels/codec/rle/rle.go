// Package rle decodes DICOM RLE Lossless (PS3.5 Annex G): per frame a
// 64-byte header of up to 15 segment offsets, one PackBits segment per byte
// plane (most significant byte first) per sample. Pure Go, fuzzed; safe for
// concurrent use.
package rle

import (
	"encoding/binary"
	"fmt"

	"github.com/huren-health/huren/pixels"
)

// Decoder decodes RLE Lossless frames.
type Decoder struct{}

var _ pixels.Decoder = Decoder{}

// Decode decodes one RLE frame into Frame layout.
func (Decoder) Decode(src []byte, info pixels.Info) (*pixels.Frame, error) {
	if len(src) < 64 {
		return nil, fmt.Errorf("rle: frame of %d bytes has no header: %w", len(src), pixels.ErrCorrupt)
	}
	if info.BitsAllocated == 1 || info.BitsAllocated%8 != 0 {
		return nil, fmt.Errorf("rle: bits allocated %d: %w", info.BitsAllocated, pixels.ErrCorrupt)
	}
	bps := info.BitsAllocated / 8
	spp := info.SamplesPerPixel
	nseg := int(binary.LittleEndian.Uint32(src))
	if nseg != bps*spp {
		return nil, fmt.Errorf("rle: %d segments, %d samples × %d bytes expected: %w", nseg, spp, bps, pixels.ErrCorrupt)
	}
	var offs [16]int
	for i := 0; i < nseg; i++ {
		offs[i] = int(binary.LittleEndian.Uint32(src[4+4*i:]))
		if offs[i] < 64 || offs[i] > len(src) || (i > 0 && offs[i] < offs[i-1]) {
			return nil, fmt.Errorf("rle: segment %d offset %d outside frame of %d bytes: %w", i, offs[i], len(src), pixels.ErrCorrupt)
		}
	}
	offs[nseg] = len(src)
	// A PackBits replicate run turns 2 bytes into at most 128: a frame
	// smaller than 1/64 of its decoded size is corrupt. Checked before
	// allocating from the header's geometry.
	if int64(len(src)-64)*64 < info.FrameBytes() {
		return nil, fmt.Errorf("rle: %d bytes cannot decode to %d: %w", len(src), info.FrameBytes(), pixels.ErrCorrupt)
	}
	photo := info.Photometric
	f := pixels.NewFrame(info, photo)
	px := info.Rows * info.Columns
	plane := make([]byte, px)
	for s := 0; s < spp; s++ {
		for b := 0; b < bps; b++ {
			seg := s*bps + b
			if err := unpackBits(plane, src[offs[seg]:offs[seg+1]]); err != nil {
				return nil, fmt.Errorf("rle: segment %d: %w", seg, err)
			}
			// Segment b holds byte (bps-1-b) of each little-endian sample.
			pos := s*bps + (bps - 1 - b)
			stride := spp * bps
			for i, v := range plane {
				f.Data[i*stride+pos] = v
			}
		}
	}
	return f, nil
}

// unpackBits fills dst exactly from a PackBits segment; a segment that
// yields too few bytes is corrupt, extra output (encoder padding) is
// ignored.
func unpackBits(dst, src []byte) error {
	o := 0
	for i := 0; i < len(src) && o < len(dst); {
		n := int(int8(src[i]))
		i++
		switch {
		case n >= 0:
			cnt := n + 1
			if i+cnt > len(src) {
				cnt = len(src) - i
			}
			o += copy(dst[o:], src[i:i+cnt])
			i += cnt
		case n != -128:
			if i >= len(src) {
				return fmt.Errorf("run without value: %w", pixels.ErrCorrupt)
			}
			v := src[i]
			i++
			for k := 0; k < 1-n && o < len(dst); k++ {
				dst[o] = v
				o++
			}
		}
	}
	if o < len(dst) {
		return fmt.Errorf("segment decodes to %d bytes, %d expected: %w", o, len(dst), pixels.ErrCorrupt)
	}
	return nil
}

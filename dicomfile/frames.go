package dicomfile

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// encapsulatedFrames groups fragments into frames (PS3.5 A.4): by the
// Extended Offset Table, else the Basic Offset Table, else trivially (one
// frame, or one fragment per frame), else by codec start markers.
func (p *parser) encapsulatedFrames(s *pixelScan, nf int) ([][]ByteRange, error) {
	if len(s.frags) == 0 {
		return nil, fmt.Errorf("%w: encapsulated Pixel Data (7FE0,0010) contains no fragments", ErrBadPixelData)
	}
	if len(s.frags) < nf {
		return nil, fmt.Errorf("%w: encapsulated Pixel Data has %d fragments but Number of Frames (0028,0008) is %d: frames are missing",
			ErrBadPixelData, len(s.frags), nf)
	}
	base := s.frags[0].itemOffset
	// Offsets are relative to the first fragment's item tag.
	var starts []int64
	if len(p.eotOffsets) > 0 {
		if len(p.eotOffsets)%8 != 0 || len(p.eotOffsets)/8 != nf {
			return nil, fmt.Errorf("%w: Extended Offset Table (7FE0,0001) has %d entries but Number of Frames is %d", ErrBadPixelData, len(p.eotOffsets)/8, nf)
		}
		for i := 0; i < nf; i++ {
			starts = append(starts, int64(binary.LittleEndian.Uint64(p.eotOffsets[8*i:])))
		}
	} else if len(s.bot) > 0 {
		if len(s.bot) != nf {
			return nil, fmt.Errorf("%w: Basic Offset Table has %d entries but Number of Frames (0028,0008) is %d", ErrBadPixelData, len(s.bot), nf)
		}
		for _, o := range s.bot {
			starts = append(starts, int64(o))
		}
	}
	if starts != nil {
		return groupByStarts(s.frags, base, starts)
	}
	switch {
	case nf == 1:
		return [][]ByteRange{fragRanges(s.frags)}, nil
	case len(s.frags) == nf:
		out := make([][]ByteRange, nf)
		for i, f := range s.frags {
			out[i] = []ByteRange{{Offset: f.offset, Length: f.length}}
		}
		return out, nil
	case p.f.TransferSyntax == TSRLE:
		return nil, fmt.Errorf("%w: RLE Pixel Data has %d fragments for %d frames; RLE requires exactly one fragment per frame", ErrBadPixelData, len(s.frags), nf)
	}
	// No offset table and more fragments than frames: a fragment that
	// begins with a codec start marker begins a frame.
	var out [][]ByteRange
	for i, f := range s.frags {
		if i == 0 || startsFrame(f) {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], ByteRange{Offset: f.offset, Length: f.length})
	}
	if len(out) != nf {
		return nil, fmt.Errorf("%w: cannot locate the frames of encapsulated Pixel Data: %d fragments without offset table, %d of them begin a compressed image, but Number of Frames (0028,0008) is %d",
			ErrBadPixelData, len(s.frags), len(out), nf)
	}
	return out, nil
}

// startsFrame: JPEG / JPEG-LS SOI (FF D8 FF), JPEG 2000 codestream SOC+SIZ
// (FF 4F FF 51) or a JP2 signature box.
func startsFrame(f fragment) bool {
	h := f.head[:f.headLen]
	if len(h) < 4 {
		return false
	}
	switch {
	case h[0] == 0xFF && h[1] == 0xD8 && h[2] == 0xFF:
		return true
	case h[0] == 0xFF && h[1] == 0x4F && h[2] == 0xFF && h[3] == 0x51:
		return true
	case h[0] == 0 && h[1] == 0 && h[2] == 0 && h[3] == 0x0C:
		return true
	}
	return false
}

func fragRanges(fs []fragment) []ByteRange {
	out := make([]ByteRange, len(fs))
	for i, f := range fs {
		out[i] = ByteRange{Offset: f.offset, Length: f.length}
	}
	return out
}

// groupByStarts assigns fragments to frames whose first item tag lies at
// base+starts[i].
func groupByStarts(frags []fragment, base int64, starts []int64) ([][]ByteRange, error) {
	if !sort.SliceIsSorted(starts, func(i, j int) bool { return starts[i] < starts[j] }) || starts[0] != 0 {
		return nil, fmt.Errorf("%w: the offset table of encapsulated Pixel Data is not increasing from 0", ErrBadPixelData)
	}
	out := make([][]ByteRange, len(starts))
	fi := 0
	for i, st := range starts {
		if i > 0 && st == starts[i-1] {
			return nil, fmt.Errorf("%w: the offset table of encapsulated Pixel Data lists frame %d twice", ErrBadPixelData, i)
		}
		// The frame must begin exactly at a fragment.
		for fi < len(frags) && frags[fi].itemOffset-base < st {
			fi++
		}
		if fi == len(frags) || frags[fi].itemOffset-base != st {
			return nil, fmt.Errorf("%w: the offset table of encapsulated Pixel Data points frame %d to byte %d, which is not the start of a fragment",
				ErrBadPixelData, i+1, base+st)
		}
		var next int64 = -1
		if i+1 < len(starts) {
			next = starts[i+1]
		}
		for fi < len(frags) && (next < 0 || frags[fi].itemOffset-base < next) {
			out[i] = append(out[i], ByteRange{Offset: frags[fi].offset, Length: frags[fi].length})
			fi++
		}
	}
	return out, nil
}

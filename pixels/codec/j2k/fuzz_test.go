package j2k

import (
	"testing"

	"github.com/huren-health/huren/pixels"
)

// FuzzDecode: any codestream with any plausible header geometry decodes
// to a frame of exactly the header's size or fails with a typed error —
// never a panic, a hang or an allocation beyond the memory budget. Seeded
// with every J2K/HTJ2K frame of the corpus; crashers found are kept in
// testdata/fuzz/FuzzDecode as regression cases.
func FuzzDecode(f *testing.F) {
	for _, fr := range corpusFrames(f) {
		// Large frames make every fuzz iteration slow; mutations of the
		// small ones reach the same code.
		if len(fr.src) <= 256<<10 {
			f.Add(fr.src, uint16(fr.info.Columns), uint16(fr.info.Rows), uint8(fr.info.SamplesPerPixel), uint8(fr.info.BitsAllocated), fr.info.PixelRepresentation == 1)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte, cols, rows uint16, spp, bits uint8, signed bool) {
		info := pixels.Info{
			TransferSyntax: pixels.JPEG2000Lossless, Frames: 1,
			Columns: int(cols%2048) + 1, Rows: int(rows%2048) + 1,
			SamplesPerPixel: 1, BitsAllocated: 8, BitsStored: 8, HighBit: 7, Photometric: "MONOCHROME2",
		}
		if spp%2 == 1 {
			info.SamplesPerPixel, info.Photometric = 3, "YBR_RCT"
		}
		switch bits % 3 {
		case 1:
			info.BitsAllocated, info.BitsStored, info.HighBit = 16, 12, 11
		case 2:
			info.BitsAllocated, info.BitsStored, info.HighBit = 32, 24, 23
		}
		if signed {
			info.PixelRepresentation = 1
		}
		fr, err := wasmDecode(src, info)
		if err != nil {
			assertTyped(t, err)
			return
		}
		if int64(len(fr.Data)) != info.FrameBytes() {
			t.Fatalf("%d bytes for a %d-byte frame", len(fr.Data), info.FrameBytes())
		}
	})
}

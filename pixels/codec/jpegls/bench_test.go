package jpegls

import "testing"

// BenchmarkDecodeCT decodes a 512×512 16-bit lossless CT slice (compare
// with BenchmarkDecodeCTCharLS: go test -tags huren_charls -bench DecodeCT).
func BenchmarkDecodeCT(b *testing.B) { benchDecode(b, Decoder{}, ctSlice) }

// BenchmarkDecodeFiles decodes the other corpus shapes (benchFiles).
func BenchmarkDecodeFiles(b *testing.B) { benchFilesDecode(b, Decoder{}) }

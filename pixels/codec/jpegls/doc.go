// Package jpegls decodes JPEG-LS frames (ISO/IEC 14495-1, ITU-T T.87):
// lossless and near-lossless, 2 to 16 bits, one or more components in
// interleave modes none, line and sample, restart markers, LSE preset
// coding parameters and oversize dimensions, and the HP colour transforms
// CharLS reads from an APP8 "mrfx" segment. Mapping tables (palettes) and
// JPEG-LS part 2 extensions are refused with ErrUnsupportedSyntax.
//
// Why pure Go: Huren must build and decode every syntax with nothing but
// the Go toolchain (CGO_ENABLED=0, cross-compiled Windows and ARM binaries,
// scratch containers); CharLS through cgo needed libcharls-dev and
// pkg-config on the build machine. JPEG-LS is small (context modelling,
// Golomb codes, run mode: about 1,200 lines with comments), so a
// hand-written decoder costs less than carrying a WebAssembly runtime or
// translated C, needs no memory cap of its own, and it is as fast: on a
// 512×512 16-bit lossless CT slice it takes about 0.8× CharLS's CPU time
// (BenchmarkDecodeCT against its twin BenchmarkDecodeCTCharLS, build tag
// huren_charls; figures in bench/RESULTS.md). CharLS stays only behind that
// tag, as the reference of the differential test and the benchmark.
//
// Untrusted input: the frame is checked against the DICOM header
// (columns, rows, samples, precision) before the output is allocated from
// the header's geometry, which pixels.Parse has bounded by Limits; all
// other allocations are O(width). Decoding time is linear in the image
// size: truncated data is detected per line, every code has a bounded
// length. Malformed codestreams give ErrCorrupt, never a panic (fuzzed by
// FuzzDecode).
//
// Compatibility: output is bit-identical to CharLS 2.4.1, the decoder Huren
// used before (differential test over random images and parameters, and
// dcmtk's oracles for the corpus). Where CharLS departs from T.87 on valid
// streams it produces itself, this package follows CharLS: an LSE MAXVAL
// below 2^P-1 only sets the default thresholds (RANGE, LIMIT and the clamp
// stay those of 2^P-1), because the DICOM encoders that write one are
// CharLS and its forks. Where CharLS fails (RESET above 255 truncated to 8
// bits in run mode, sample interleave with a custom RESET) T.87 applies.
//
// Decode is safe for concurrent use: all state lives in the call.
package jpegls

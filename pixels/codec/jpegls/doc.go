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
// Golomb codes, run mode: about 900 lines here), so a hand-written decoder
// costs less than carrying a WebAssembly runtime or translated C, and it
// is as fast: see BenchmarkDecodeCT against its CharLS twin (build tag
// huren_charls), and bench/RESULTS.md. CharLS stays only behind that tag,
// as the reference of the differential test.
//
// Untrusted input: the frame is checked against the DICOM header
// (columns, rows, samples, precision) before the output is allocated from
// the header's geometry, which pixels.Parse has bounded by Limits; all
// other allocations are O(width). Decoding time is linear in the image
// size: truncated data is detected per line, every code has a bounded
// length. Malformed codestreams give ErrCorrupt, never a panic (fuzzed by
// FuzzDecode).
//
// Where CharLS 2.4.1 departs from T.87 this package follows T.87: an LSE
// MAXVAL below 2^P-1 sets RANGE, LIMIT and the prediction clamp (CharLS
// keeps those of 2^P-1), and RESET above 255 applies to the run
// interruption contexts too. No known DICOM encoder writes either.
//
// Decode is safe for concurrent use: all state lives in the call.
package jpegls

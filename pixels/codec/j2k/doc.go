// Package j2k decodes JPEG 2000 (lossless and lossy, raw codestream or a
// non-conformant JP2 wrapper, with or without the RCT/ICT multi-component
// transform) and High-Throughput JPEG 2000 frames, without cgo.
//
// # Why WebAssembly
//
// No maintained pure-Go JPEG 2000 decoder handles HTJ2K and passes the
// OpenJPEG oracles, and linking OpenJPEG through cgo meant `go build` needed
// libopenjp2-7-dev and pkg-config, failed with CGO_ENABLED=0 and could not
// cross-compile for Windows or ARM. So the reference decoder itself,
// OpenJPEG 2.5.0 (Debian bookworm source package openjpeg2
// 2.5.0-2+deb12u3, the same version the Debian library links), is compiled
// to WebAssembly (wasm/openjp2.wasm, 281 KB, embedded) and run by wazero
// (github.com/tetratelabs/wazero v1.12.0), a pure-Go runtime that compiles
// the module to machine code on amd64/arm64 and interprets it elsewhere.
// The samples are bit-identical to the native library's (a differential
// test checks every corpus frame); OpenJPEG undoes the RCT/ICT, so
// YBR_RCT/YBR_ICT data comes out RGB.
//
// Cost: decoding takes more CPU than the native library: about 1.7× for a
// 2,500×3,000 J2K lossless frame, about 2.8× for HTJ2K and lossy J2K
// (bench: BenchmarkDecode; bench/RESULTS.md). The native decoder remains
// available with `-tags huren_openjpeg` (needs cgo and libopenjp2-7-dev).
//
// # Rebuilding the module
//
// wasm/build.sh fetches the pinned Debian source with apt-get source,
// checks the upstream tarball's SHA-256, and compiles OpenJPEG's decoder
// sources plus wasm/glue.c with Debian's clang 14 (1:14.0.6-12) and
// wasi-libc (0.0~git20220510.9886d3d-2) at -O2 -msimd128, with
// -ffile-prefix-map so no build path enters the binary. The output is
// reproducible: `wasm/build.sh --check` rebuilds and compares byte for
// byte with the committed artifact and wasm/openjp2.wasm.sha256 (and says
// so when the installed toolchain differs from the pinned one).
//
// # Bounds
//
// The module is compiled once (lazily, shared); each decode gets a fresh
// instance, so no state survives a failed decode and Decode is safe for
// concurrent use. Before instantiating, a frame whose estimated decoder
// memory (the codestream, a 32-bit plane per component, the output) is
// above 1 GiB is refused with pixels.ErrTooLarge. Each instance's memory is
// capped at twice that estimate plus 32 MiB (and 1 GiB absolute): past it
// malloc fails inside the module and the decode fails with ErrTooLarge,
// never growing the host. The codestream's geometry is checked against the
// DICOM header after the main header and before anything else is
// allocated. A trap or exit inside the module is an error (ErrCorrupt).
// Run time is bounded by the context (DecodeContext) and DecodeTimeout:
// OpenJPEG is compiled with -finstrument-function-entry-bare and every
// 1024th function entry asks the host whether the context is done (wazero's
// WithCloseOnContextDone made decoding 3.3× slower).
package j2k

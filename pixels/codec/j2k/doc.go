// Package j2k decodes JPEG 2000 (lossless and lossy, raw codestream or a
// non-conformant JP2 wrapper) and High-Throughput JPEG 2000 frames through
// OpenJPEG 2.5 (Debian libopenjp2-7-dev, via cgo and pkg-config). OpenJPEG
// applies the inverse multi-component transform itself, so YBR_RCT/YBR_ICT
// data comes out RGB. The codestream's size and components are checked
// against the DICOM header after reading the header and before decoding.
// A build without cgo compiles a stub failing with
// pixels.ErrCodecUnavailable. Decode is safe for concurrent use.
package j2k

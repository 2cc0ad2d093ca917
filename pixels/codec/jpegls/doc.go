// Package jpegls decodes JPEG-LS (lossless and near-lossless, ISO/IEC
// 14495-1) frames through CharLS (Debian libcharls-dev, via cgo and
// pkg-config). A build without cgo compiles a stub whose Decode fails with
// pixels.ErrCodecUnavailable, so the rest of Huren still builds and reports
// the missing codec clearly. Decode is safe for concurrent use: each call
// owns its CharLS decoder.
package jpegls

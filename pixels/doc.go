// Package pixels turns the Pixel Data of a DICOM file into decoded frames.
//
// It is split like pydicom's pixels package: this package parses just enough
// of a DICOM file to find the image description (Info), the display
// attributes render needs (Display) and the bytes of each frame (native
// slices, or encapsulated fragments reassembled into frames using the
// Extended/Basic Offset Table or codec start markers). Codecs live in
// sub-packages under pixels/codec, each keyed by transfer syntax UID and
// collected into a Registry by pixels/codec.Registry (an explicit switch, no
// init registration). pixels/render turns a decoded Frame into an 8-bit image
// and never knows which codec produced it; pixels/web serves WADO-RS frames,
// rendered images and thumbnails.
//
// ParseHeader does the same walk on the first bytes of a file and, for a
// native little endian image, says where each frame lies in the file
// (NativeFrameRange), so a renderer can stream a frame from storage
// instead of holding the file and a decoded copy.
//
// Untrusted input: Parse and ParseHeader never panic on any byte sequence
// (both are fuzzed), they bound recursion, and they check the declared
// geometry (Rows×Columns×Frames×Samples×Bits) against the actual Pixel Data
// length (ParseHeader: against the file's size), or against Limits, before
// any decoder allocates an output buffer.
//
// Concurrency: a parsed *Image is immutable after Parse and safe for
// concurrent use; Registry is read-only after construction; decoders are
// stateless and safe for concurrent use.
//
// Decoded frame layout (Frame.Data) is the one the test corpus oracle hashes:
// stored values, row-major, samples interleaved per pixel even for Planar
// Configuration 1, little endian, in the dtype of Bits Allocated (1-bit data
// unpacked to one byte per pixel), no masking above High Bit and no Modality
// LUT. Colour conversion happens only where the codec itself does it (JPEG
// baseline YCbCr, JPEG 2000 MCT), and Frame.Photometric says what came out.
package pixels

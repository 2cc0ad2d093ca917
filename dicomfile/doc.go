// Package dicomfile is Huren's reader of untrusted DICOM files. It turns the
// bytes of a DICOM Part 10 file (or a legacy file without preamble and File
// Meta Information) into the DICOM JSON model (PS3.18 Annex F) that ingest
// stores, QIDO indexes and WADO-RS serves as metadata, and it records the
// byte offsets of every bulk value and of every pixel frame in the original
// file, so that WADO can serve frames and bulk data with range reads of the
// stored original, without parsing it again.
//
// # How it reads
//
// The parser is a single forward pass over an io.Reader with a bounded,
// pooled buffer: values that go into the metadata are read into memory
// (capped by Options.MaxHeaderBytes, which also charges a fixed cost per
// element, item and fragment), bulk values and pixel data are skipped — with
// Seek when the reader can — and only their positions recorded. It is its
// own element walker rather than github.com/suyashkumar/dicom because ingest
// needs byte offsets, ISO 2022 character set decoding, truncation detection
// and panic-free handling of hostile input, none of which that library
// provides (LIBRARIES.md); the library's data dictionary supplies the VRs of
// Implicit VR files.
//
// # What it produces
//
//   - Dataset: every attribute except the File Meta group 0002 (kept apart in
//     File.Meta), strings decoded to UTF-8 from the Specific Character Set
//     (ISO_IR 6/100/101/109/110/126/127/138/144/148/166/203/192, GB18030, GBK,
//     and ISO 2022 code extensions IR 6/13/87/159/149/58 and the 8859 parts
//     with escape sequences; misspellings such as "ISO-IR 100" accepted; a
//     sequence item's own (0008,0005) applies inside it).
//   - Numbers as JSON numbers (US SS UL SL SV UV FL FD DS IS); a DS/IS value
//     that is not a number stays a string rather than being dropped; NaN and
//     infinities of FL/FD are the strings "NaN", "Infinity", "-Infinity".
//   - AT as "GGGGEEEE"; PN as dicomjson.PersonName groups; SQ as nested
//     Datasets; empty values as null; empty attributes without Value.
//   - Binary values (OB OW OF OD OL OV UN) longer than Options.BulkThreshold,
//     and Pixel Data always, as {"vr", "BulkDataURI": tag path} with a
//     matching BulkRef; shorter ones as InlineBinary (little-endian).
//   - UN elements whose tag the dictionary knows are re-read with the
//     dictionary VR (undefined-length UN as an Implicit VR sequence, PS3.5
//     6.2.2); private elements of unknown VR stay UN bytes (pydicom would
//     use its private dictionary).
//   - Pixels: image attributes and, per frame, the byte ranges holding it —
//     native frames by geometry; encapsulated frames from the Extended or
//     Basic Offset Table, else one fragment per frame, else codec start
//     markers (JPEG SOI, JPEG 2000 SOC/SIZ). Deflated files
//     (1.2.840.10008.1.2.1.99): all offsets refer to the stream of
//     InflatedReader, not to the stored bytes.
//
// # Errors
//
// Every error wraps one of the package sentinels (errors.Is; each carries an
// errkind.Kind) with the byte position and the element concerned, in words a
// technician can act on. Pixel Data that does not agree with the image
// attributes does not fail Parse (the file can still be indexed); it is in
// PixelInfo.FramesErr and reported by Validate, which also checks the UIDs.
// Parse never panics: a recover() turns a programming error into
// ErrMalformed (stack to Options.Logger) rather than taking the server down.
//
// # Concurrency
//
// Parse, Validate and InflatedReader are safe for concurrent use; a *File is
// immutable once returned and may be shared between goroutines.
//
// Non-goals: decoding compressed pixel data (codec packages do that),
// writing DICOM, and repairing broken files.
package dicomfile

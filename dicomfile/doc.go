// Package dicomfile is Huren's reader of untrusted DICOM files. It turns the
// bytes of a DICOM Part 10 file (or a legacy file without preamble and File
// Meta Information) into the DICOM JSON model (PS3.18 Annex F) that ingest
// stores, QIDO indexes and WADO-RS serves as metadata, and it records the
// byte offsets of every bulk value and of every pixel frame in the original
// file, so that WADO can serve frames and bulk data with range reads of the
// stored original, without parsing it again.
//
// The parser is a single forward pass over an io.Reader with a bounded
// buffer: values that go into the metadata are read into memory (capped by
// Options.MaxHeaderBytes), bulk values and pixel data are skipped and only
// their positions recorded. It is its own element walker rather than
// github.com/suyashkumar/dicom because ingest needs byte offsets, ISO 2022
// character set decoding, truncation detection and panic-free handling of
// hostile input, none of which that library provides (see LIBRARIES.md);
// the library's data dictionary is used for Implicit VR files.
//
// Every error is one of the package's sentinels (errors.Is) wrapped with the
// position and the element concerned, in words a technician can act on. Parse
// never panics: a recover() turns a programming error into ErrMalformed rather
// than taking the server down.
//
// Concurrency: Parse and Validate are safe for concurrent use; a *File is
// immutable once returned and may be shared between goroutines.
//
// Non-goals: decoding compressed pixel data (see the codec packages), writing
// DICOM, and repairing broken files.
package dicomfile

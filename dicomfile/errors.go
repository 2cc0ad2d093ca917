package dicomfile

import "github.com/huren-health/huren/errkind"

// Sentinel errors. Every error returned by Parse and Validate wraps exactly one
// of them; the wrapping message says where in the file and what to do.
var (
	// ErrNotDICOM: the bytes are not a DICOM file at all.
	ErrNotDICOM = errkind.New(errkind.Invalid, "dicomfile: not a DICOM file")
	// ErrTruncated: the file ends before a declared length is satisfied.
	ErrTruncated = errkind.New(errkind.Invalid, "dicomfile: file is truncated")
	// ErrMalformed: the encoding is broken (impossible lengths, bad item
	// structure, nesting too deep).
	ErrMalformed = errkind.New(errkind.Invalid, "dicomfile: malformed DICOM encoding")
	// ErrMissingUID: a UID ingest needs (SOP Class/Instance, Study, Series) is absent or empty.
	ErrMissingUID = errkind.New(errkind.Invalid, "dicomfile: required UID missing")
	// ErrBadUID: a UID is not a valid DICOM UID (PS3.5 9.1).
	ErrBadUID = errkind.New(errkind.Invalid, "dicomfile: invalid UID")
	// ErrBadPixelData: Pixel Data does not agree with the image attributes
	// (wrong length, missing Rows/Columns, frames that cannot be located).
	ErrBadPixelData = errkind.New(errkind.Invalid, "dicomfile: pixel data inconsistent with image attributes")
	// ErrUnsupportedTransferSyntax: the Transfer Syntax UID is not one Huren knows.
	ErrUnsupportedTransferSyntax = errkind.New(errkind.Unsupported, "dicomfile: unsupported transfer syntax")
	// ErrTooLarge: the non-pixel part of the file exceeds Options.MaxHeaderBytes
	// (or a deflated file inflates beyond Options.MaxInflatedBytes).
	ErrTooLarge = errkind.New(errkind.TooLarge, "dicomfile: header too large")
)

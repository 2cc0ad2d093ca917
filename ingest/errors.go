package ingest

import (
	"errors"
	"fmt"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomfile"
	"github.com/huren-health/huren/errkind"
	"github.com/huren-health/huren/storage"
)

// Sentinel errors. Every error Ingest returns wraps one of them, or one of
// dicomfile's, storage's or catalog's sentinels; Reason maps any of them to a
// DICOM failure reason and errkind to an HTTP status.
var (
	// ErrInvalid: the instance parsed but fails validation (a required UID
	// missing or malformed).
	ErrInvalid = errkind.New(errkind.Invalid, "ingest: instance fails validation")
	// ErrStudyMismatch: the instance's Study Instance UID differs from the
	// one the transport requires (the STOW URL's study).
	ErrStudyMismatch = errkind.New(errkind.Invalid, "ingest: study instance uid does not match the request")
	// ErrConflict: an instance with this SOP Instance UID is already stored
	// with different bytes (or in another study/series). The original is kept.
	ErrConflict = errkind.New(errkind.Conflict, "ingest: different instance with the same SOP Instance UID already stored")
	// ErrForeignUID: the instance's Study or Series Instance UID belongs to
	// a study or series another site created (see owner.go). Nothing was
	// written. The message names only the UID the sender sent.
	ErrForeignUID = errkind.New(errkind.Conflict, "ingest: UID not available to the sending site")
	// ErrTooLarge: the instance exceeds Config.MaxInstanceBytes.
	ErrTooLarge = errkind.New(errkind.TooLarge, "ingest: instance too large")
	// ErrEmpty: zero bytes were sent for an instance.
	ErrEmpty = errkind.New(errkind.Invalid, "ingest: empty instance")
	// ErrStoppedReading joins an error found in an upload's first bytes
	// (not DICOM at all): the rest was not read, so the transport should
	// not try to read past it either (a multipart body is abandoned there).
	ErrStoppedReading = errkind.New(errkind.Invalid, "ingest: the rest of the upload was not read")
	// ErrClosed: the service is shut down.
	ErrClosed = errkind.New(errkind.Unavailable, "ingest: service closed")
)

// Failure reasons (0008,1197) and warning reasons (0008,1196) of PS3.18
// STOW-RS (Store Instances Response Module), as defined for the Storage
// Service Class in PS3.4 Annex B / GG.
const (
	// ReasonProcessingFailure 0110: a general failure in processing the
	// operation — used for internal errors and for a SOP Instance UID that
	// is already stored with different content (the standard has no
	// dedicated STOW code for that; DIMSE's 0111 "Duplicate SOP Instance" is
	// an N-CREATE status).
	ReasonProcessingFailure uint16 = 0x0110
	// ReasonOutOfResources A700: refused, out of resources — instance over
	// the size limit, or storage/catalog unavailable (retry later).
	ReasonOutOfResources uint16 = 0xA700
	// ReasonDataSetMismatch A900: the data set does not match the SOP class
	// (required UIDs missing/invalid, study UID differs from the URL).
	ReasonDataSetMismatch uint16 = 0xA900
	// ReasonCannotUnderstand C000: the bytes cannot be parsed as DICOM
	// (not DICOM, truncated, malformed, not an application/dicom part).
	ReasonCannotUnderstand uint16 = 0xC000
	// ReasonTransferSyntaxNotSupported C122: unknown transfer syntax.
	ReasonTransferSyntaxNotSupported uint16 = 0xC122
)

// Reason returns the STOW-RS failure reason for an Ingest error.
func Reason(err error) uint16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrConflict), errors.Is(err, ErrForeignUID):
		return ReasonProcessingFailure
	case errors.Is(err, ErrTooLarge), errors.Is(err, dicomfile.ErrTooLarge),
		errors.Is(err, storage.ErrUnavailable), errors.Is(err, catalog.ErrUnavailable),
		errors.Is(err, ErrClosed):
		return ReasonOutOfResources
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrStudyMismatch),
		errors.Is(err, dicomfile.ErrMissingUID), errors.Is(err, dicomfile.ErrBadUID):
		return ReasonDataSetMismatch
	case errors.Is(err, dicomfile.ErrUnsupportedTransferSyntax):
		return ReasonTransferSyntaxNotSupported
	case errors.Is(err, ErrEmpty), errors.Is(err, dicomfile.ErrNotDICOM), errors.Is(err, dicomfile.ErrTruncated),
		errors.Is(err, dicomfile.ErrMalformed), errors.Is(err, dicomfile.ErrBadPixelData):
		return ReasonCannotUnderstand
	}
	if errkind.Of(err) == errkind.Unavailable {
		return ReasonOutOfResources
	}
	return ReasonProcessingFailure
}

// reasonLabel names a failure for the failures_total metric.
func reasonLabel(err error) string {
	switch {
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrForeignUID):
		return "foreign_uid"
	case errors.Is(err, ErrTooLarge), errors.Is(err, dicomfile.ErrTooLarge):
		return "too_large"
	case errors.Is(err, storage.ErrUnavailable), errors.Is(err, catalog.ErrUnavailable), errors.Is(err, ErrClosed):
		return "unavailable"
	case errors.Is(err, ErrStudyMismatch):
		return "study_mismatch"
	case errors.Is(err, ErrInvalid), errors.Is(err, dicomfile.ErrMissingUID), errors.Is(err, dicomfile.ErrBadUID):
		return "invalid"
	case errors.Is(err, dicomfile.ErrTruncated):
		return "truncated"
	case errors.Is(err, ErrEmpty), errors.Is(err, dicomfile.ErrNotDICOM):
		return "not_dicom"
	case errors.Is(err, dicomfile.ErrUnsupportedTransferSyntax):
		return "transfer_syntax"
	case errors.Is(err, dicomfile.ErrMalformed), errors.Is(err, dicomfile.ErrBadPixelData):
		return "malformed"
	case errors.Is(err, errReadBody):
		return "read_error"
	}
	return "internal"
}

// errReadBody marks a failure to read the instance bytes from the transport
// (client disconnect, body limit): nothing was stored.
var errReadBody = errors.New("ingest: reading instance bytes")

func readErr(err error) error { return fmt.Errorf("%w: %w", errReadBody, err) }

// IsReadError reports whether Ingest failed because the instance bytes could
// not be read from the transport (client disconnect, body limit, a stream
// that ended early) — nothing was stored, and the transport itself is
// broken, so callers should stop reading further instances from it.
func IsReadError(err error) bool { return errors.Is(err, errReadBody) }

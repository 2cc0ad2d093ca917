// Package dicomweb serves DICOMweb (PS3.18) over HTTP with gin:
//
//   - STOW-RS: POST /studies and /studies/{study} with
//     multipart/related; type="application/dicom", read part by part as it
//     streams (each instance is durable before the next part is read). As a
//     convenience a single application/dicom body (curl --data-binary) is
//     accepted too. Response: DICOM JSON with Referenced SOP Sequence
//     (0008,1199) incl. Retrieve URL, Failed SOP Sequence (0008,1198) with
//     Failure Reason (0008,1197) — C000 cannot understand (not DICOM,
//     truncated, malformed, part not application/dicom), A900 data set does
//     not match (UIDs missing/invalid, study differs from the URL), A700
//     out of resources (instance over the limit, backend down), C122
//     transfer syntax not supported, 0110 processing failure (same SOP
//     Instance UID already stored with other bytes; internal errors) — and
//     a human-readable Error Comment (0000,0902). Status 200 all stored,
//     202 some failed, 409 none stored, 503 + Retry-After none stored
//     because storage/catalog is down, 400 bad multipart/empty body (also a
//     body cut mid-part: the instances before it are stored, the cut one
//     is not), 413 over the body limit, 415 wrong Content-Type.
//   - QIDO-RS: /studies, /series, /instances and their study/series-scoped
//     forms, via catalog.ParseQuery and catalog.Search; application/dicom+json;
//     every result carries Retrieve URL (0008,1190); no match is 200 with [].
//   - WADO-RS: study/series/instance retrieve as
//     multipart/related; type="application/dicom", streamed from storage in
//     the stored (original) transfer syntax. transfer-syntax=* or absent is
//     answered with the stored syntax, labelled on each part (PS3.18 would
//     default to Explicit VR Little Endian; Huren never transcodes, like
//     Orthanc's default); a different syntax demanded explicitly is 406.
//     Metadata at study/series/instance level as DICOM JSON with absolute
//     BulkDataURIs (series metadata is one storage read of a precomputed
//     bundle, see package ingest); bulk data at
//     .../instances/{instance}/bulk/{tagpath} by a range read of the
//     original. /frames, /rendered and /thumbnail are package pixels'.
//   - CORS: see CORS; install it on the engine.
//
// Access scoping: Config.Scope returns the caller's sites; every query and
// retrieve is restricted to them, and anything outside is 404, exactly like
// a missing UID.
//
// Errors go through httpapi (status from errkind). A streamed response that
// fails after its first bytes were sent is aborted (the connection is
// dropped) so a client never mistakes a partial answer for a whole one.
//
// Concurrency: a Handler is safe for concurrent use.
package dicomweb

// Package ingest stores DICOM instances, whatever transport brought them
// (STOW-RS in package dicomweb, DIMSE C-STORE, the edge agent, browser
// uploads): it spools, parses (package dicomfile), validates, stores the
// original bytes unchanged, stores per-instance metadata, indexes the
// catalog and notifies a listener. It also keeps the precomputed series
// metadata bundles that make WADO-RS series metadata one storage read, and
// rebuilds the catalog from storage (Reindex).
//
// Objects (storage keys):
//
//	dicom/{study}/{series}/{sop}.dcm   original bytes, byte for byte (PutIfAbsent)
//	meta/{study}/{series}/{sop}.json   Meta: DICOM JSON without bulk data + size,
//	                                   sha256, site, received-at, transfer syntax,
//	                                   bulk and frame byte ranges in the original
//	meta/{study}/{series}/series.json  series metadata bundle (derived, versioned)
//	owner/study/{study}                the site that created the study (PutIfAbsent)
//	owner/series/{series}              the site that created the series (PutIfAbsent)
//
// Ownership (owner.go): a study and a series belong to the site that sent
// their first instance. An instance of another site carrying their UID is
// ErrForeignUID and nothing is written; the decision is atomic across
// replicas and independent of the catalog backend (PutIfAbsent of the owner
// object), and survives a catalog reset or reindex.
//
// Durability and crash safety: see Service.Ingest for the write order; an
// instance is acknowledged only after the original, its metadata and its
// catalog record are durable. A crash at any point leaves either nothing
// visible or objects Reindex (or a client's re-send) completes.
//
// Idempotency: the same bytes again are a success that writes nothing; the
// same SOP Instance UID with other bytes (or in another study/series) is
// ErrConflict and the original is kept; when the stored instance is another
// site's, the error names nothing of it (not its study, series or digest).
// Two replicas racing on the same UID
// with different bytes are decided by PutIfAbsent (one wins, the other gets
// ErrConflict) when they share study and series; a race across different
// studies is decided by the catalog check only, which is not atomic with
// the write — acceptable for UIDs that are globally unique by construction.
//
// Series metadata bundles: see bundle.go. A bundle carries the etag of
// the instance list it was built from and is served only when that equals
// the catalog's current list, so a stale bundle is never served; rebuilds
// are debounced per series and incremental.
//
// Concurrency: a Service is safe for concurrent use by many goroutines and,
// through the shared storage and catalog, by many replicas. Memory per
// in-flight instance is bounded by Config.SpoolMemoryBytes (larger
// instances spool to a temp file).
//
// Non-goals: transcoding, de-identification, pixel decoding (package
// pixels), deciding who may upload (the caller sets Source.Site).
package ingest

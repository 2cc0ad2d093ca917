// Package minio is the MinIO / S3 backend of storage.Store, for production
// setups with several stateless hub replicas. It uses minio-go v7.
//
// Lifecycle: New only validates and builds the client (no I/O); Init creates
// the bucket if missing and sweeps leftovers of writers that died more than a
// day ago; Open does both. Close is a no-op and safe to repeat.
//
// Layout: object key K is stored as Config.Prefix+K with user metadata
// x-amz-meta-sha256 (lowercase hex) and its Content-Type. The first key
// segment ".huren-tmp" is reserved (rejected with storage.ErrInvalidKey) for
// uploads awaiting a server-side copy.
//
// Writes: the SHA-256 is computed while the bytes stream and recorded in the
// object's metadata, which S3 only accepts when the upload starts. So:
//
//   - Objects up to one part (Config.PartSize, default 16 MiB — every CT
//     slice, ECG and metadata document) are buffered (in a pooled 1 MiB
//     buffer, or a part buffer when larger), hashed, and sent with one PUT
//     signed with that SHA-256, so the server verifies the bytes too.
//   - Larger objects with PutOptions.SHA256 given go straight to a multipart
//     upload on the key; a mismatch aborts it before Complete.
//   - Larger objects without a known hash go to a multipart upload on a temp
//     key; once the hash is known they are copied server-side
//     (UploadPartCopy, no bytes through the hub) into a multipart upload on
//     the key that carries the hash, and the temp object is removed.
//
// In every case the key changes only at the committing request (PUT or
// CompleteMultipartUpload), which S3 makes atomic, so readers never see a
// partial object and a failed or cancelled Put leaves the previous one.
// Memory per in-flight Put is at most one part buffer (1 MiB for objects up
// to 1 MiB), whatever the object size.
// PutIfAbsent sends If-None-Match: * on the committing request; the server
// lets exactly one concurrent writer win (verified against MinIO).
//
// Errors: NoSuchKey → storage.ErrNotFound, PreconditionFailed →
// storage.ErrExists, InvalidRange → storage.ErrInvalidRange, connection
// failures, timeouts, 5xx and a missing bucket → storage.ErrUnavailable; the
// original error stays in the chain.
//
// Store implements storage.Presigner (PresignGet).
//
// Concurrency: a Store is safe for concurrent use by many goroutines and by
// many replicas sharing the bucket.
package minio

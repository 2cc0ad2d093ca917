// Package fs is the filesystem backend of storage.Store: the embedded default
// of `huren serve`, also fine for a single county server with a local disk
// or a POSIX network filesystem that honours rename(2), link(2), flock(2)
// and fsync(2).
//
// Layout under Config.Root:
//
//	objects/<key>   one file per object: a small header (size, SHA-256,
//	                content type, CRC) followed by the content byte for byte
//	                (see format.go)
//	tmp/put-*       writes in progress, each flock-ed by its writer
//
// Atomicity and durability: Put streams into a temp file while hashing,
// writes the header, fsyncs, renames over the key and fsyncs the directory;
// PutIfAbsent commits with link(2), which fails if the key exists, so it is
// atomic across processes. Readers therefore see the old or the new object,
// never a part, even if the process dies mid-write; New removes temp files
// whose writer is gone (their flock is free).
//
// Concurrency: a Store is safe for concurrent use by many goroutines and by
// many processes sharing Root. An open reader keeps the version it opened.
//
// Non-goals: a key cannot be both an object and a "directory" of other keys
// ("a" and "a/b"); such a Put fails with ErrKeyConflict. Huren's key layout
// never needs that. No presigned URLs (not a storage.Presigner).
package fs

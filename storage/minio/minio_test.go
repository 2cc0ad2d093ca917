package minio

import (
	"context"
	"os"
	"testing"

	mc "github.com/minio/minio-go/v7"

	"github.com/huren-health/huren/internal/testbackend"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/storagetest"
)

// newStore opens a Store on a fresh bucket and removes the bucket afterwards.
func newStore(t *testing.T) storage.Store {
	return newTestStore(t, "")
}

func newTestStore(t *testing.T, prefix string) *Store {
	t.Helper()
	be := testbackend.MinIO(t)
	cfg := Config{
		Endpoint:  be.Endpoint,
		AccessKey: be.AccessKey,
		SecretKey: be.SecretKey,
		Bucket:    testbackend.UniqueName("huren-test-"),
		Prefix:    prefix,
	}
	s, err := Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { removeBucket(t, s) })
	return s
}

func removeBucket(t testing.TB, s *Store) {
	ctx := context.Background()
	for u := range s.client.ListIncompleteUploads(ctx, s.bucket, "", true) {
		if u.Err == nil {
			s.core.AbortMultipartUpload(ctx, s.bucket, u.Key, u.UploadID)
		}
	}
	objs := s.client.ListObjects(ctx, s.bucket, mc.ListObjectsOptions{Recursive: true})
	for e := range s.client.RemoveObjects(ctx, s.bucket, objs, mc.RemoveObjectsOptions{}) {
		t.Logf("cleanup %s: %v", e.ObjectName, e.Err)
	}
	if err := s.client.RemoveBucket(ctx, s.bucket); err != nil {
		t.Logf("cleanup bucket %s: %v", s.bucket, err)
	}
	s.Close()
}

func TestStore(t *testing.T) { storagetest.Run(t, newStore) }

func TestStoreWithPrefix(t *testing.T) {
	// The wrapped backend already streams the full-size object in its own
	// test; a smaller one proves the wrapper does not buffer.
	if os.Getenv(storagetest.BigObjectEnv) == "" {
		t.Setenv(storagetest.BigObjectEnv, "64")
	}
	storagetest.Run(t, func(t *testing.T) storage.Store { return newTestStore(t, "tenant-a/huren") })
}

// Package backendpair opens the storage + catalog pairs that service tests
// (ingest, dicomweb) run against: the embedded default (filesystem + memory)
// and production (a real MinIO + a real Redis, via testbackend: skipped
// without them, a failure under scripts/test). Each call is isolated by
// temp dir or unique prefixes and cleans up after itself.
package backendpair

import (
	"context"
	"testing"

	"github.com/huren-health/huren/catalog"
	catmemory "github.com/huren-health/huren/catalog/memory"
	catredis "github.com/huren-health/huren/catalog/redis"
	"github.com/huren-health/huren/internal/testbackend"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/fs"
	"github.com/huren-health/huren/storage/minio"
)

// Embedded opens filesystem storage in a temp dir and an in-memory catalog.
func Embedded(t testing.TB) (storage.Store, catalog.Catalog) {
	t.Helper()
	st, err := fs.New(fs.Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cat := catmemory.New(nil)
	t.Cleanup(func() { st.Close(); cat.Close() })
	return st, cat
}

// Production opens MinIO storage (bucket "huren-test-<name>", unique key
// prefix) and a Redis catalog (unique key prefix); on cleanup it deletes
// what the test wrote.
func Production(t testing.TB, name string) (storage.Store, catalog.Catalog) {
	t.Helper()
	be := testbackend.MinIO(t)
	addr := testbackend.RedisAddr(t)
	st, err := minio.Open(t.Context(), minio.Config{Endpoint: be.Endpoint, AccessKey: be.AccessKey, SecretKey: be.SecretKey,
		Bucket: "huren-test-" + name, Prefix: testbackend.UniqueName(name+"-") + "/"}, nil)
	if err != nil {
		t.Fatalf("minio: %v", err)
	}
	cat, err := catredis.Open(t.Context(), catredis.Config{Addr: addr, Prefix: testbackend.UniqueName("huren-test-" + name + "-")}, nil)
	if err != nil {
		st.Close()
		t.Fatalf("redis: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		var keys []string
		st.List(ctx, "", func(i storage.Info) error { keys = append(keys, i.Key); return nil })
		for _, k := range keys {
			st.Delete(ctx, k)
		}
		cat.Reset(ctx)
		st.Close()
		cat.Close()
	})
	return st, cat
}

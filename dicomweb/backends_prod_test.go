package dicomweb_test

import (
	"context"
	"testing"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/catalog/memory"
	"github.com/huren-health/huren/internal/testbackend"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/minio"
)

// The production storage backend: the same tests run against a real MinIO
// (skipped without HUREN_TEST_S3_*, a failure under scripts/test). Each
// test gets its own key prefix in a shared bucket and removes its objects.
func init() {
	allBackends = append(allBackends, backends{name: "minio+memory", open: func(t testing.TB) (storage.Store, catalog.Catalog) {
		t.Helper()
		be := testbackend.MinIO(t)
		prefix := testbackend.UniqueName("dicomweb-") + "/"
		st, err := minio.Open(t.Context(), minio.Config{Endpoint: be.Endpoint, AccessKey: be.AccessKey, SecretKey: be.SecretKey, Bucket: "huren-test-dicomweb", Prefix: prefix}, nil)
		if err != nil {
			t.Fatalf("minio: %v", err)
		}
		cat := memory.New(nil)
		t.Cleanup(func() {
			ctx := context.Background()
			var keys []string
			st.List(ctx, "", func(i storage.Info) error { keys = append(keys, i.Key); return nil })
			for _, k := range keys {
				st.Delete(ctx, k)
			}
			st.Close()
			cat.Close()
		})
		return st, cat
	}})
}

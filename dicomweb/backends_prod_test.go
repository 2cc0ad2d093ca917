package dicomweb_test

import (
	"context"
	"testing"

	"github.com/huren-health/huren/catalog"
	catalogredis "github.com/huren-health/huren/catalog/redis"
	"github.com/huren-health/huren/internal/testbackend"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/minio"
)

// The production backends: the same tests run against a real MinIO and a
// real Redis (skipped without HUREN_TEST_S3_* / HUREN_TEST_REDIS_ADDR, a
// failure under scripts/test). Each test gets its own key prefix in a
// shared bucket and its own Redis key prefix, and removes what it wrote.
func init() {
	allBackends = append(allBackends, backends{name: "minio+redis", open: func(t testing.TB) (storage.Store, catalog.Catalog) {
		t.Helper()
		be := testbackend.MinIO(t)
		addr := testbackend.RedisAddr(t)
		prefix := testbackend.UniqueName("dicomweb-") + "/"
		st, err := minio.Open(t.Context(), minio.Config{Endpoint: be.Endpoint, AccessKey: be.AccessKey, SecretKey: be.SecretKey, Bucket: "huren-test-dicomweb", Prefix: prefix}, nil)
		if err != nil {
			t.Fatalf("minio: %v", err)
		}
		cat, err := catalogredis.Open(t.Context(), catalogredis.Config{Addr: addr, Prefix: testbackend.UniqueName("huren-test-dicomweb-")}, nil)
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
	}})
}

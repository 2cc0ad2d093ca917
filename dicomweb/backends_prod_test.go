package dicomweb_test

import (
	"testing"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/internal/backendpair"
	"github.com/huren-health/huren/storage"
)

// The production backends: the same tests run against a real MinIO and a
// real Redis (skipped without HUREN_TEST_S3_* / HUREN_TEST_REDIS_ADDR, a
// failure under scripts/test).
func init() {
	allBackends = append(allBackends, backends{name: "minio+redis", open: func(t testing.TB) (storage.Store, catalog.Catalog) {
		return backendpair.Production(t, "dicomweb")
	}})
}

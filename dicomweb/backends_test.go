package dicomweb_test

import (
	"testing"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/internal/backendpair"
	"github.com/huren-health/huren/storage"
)

// backends opens a fresh storage + catalog pair for one test.
type backends struct {
	name string
	open func(t testing.TB) (storage.Store, catalog.Catalog)
}

// memoryBackends is the embedded default: filesystem storage in a temp dir
// and the in-memory catalog.
var memoryBackends = backends{name: "fs+memory", open: backendpair.Embedded}

// allBackends lists every backend pair the tests run against; the
// production pair (MinIO + Redis) is added by backends_prod_test.go.
var allBackends = []backends{memoryBackends}

func forEachBackend(t *testing.T, fn func(*testing.T, backends)) {
	for _, b := range allBackends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

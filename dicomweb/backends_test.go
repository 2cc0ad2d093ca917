package dicomweb_test

import (
	"testing"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/catalog/memory"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/fs"
)

// backends opens a fresh storage + catalog pair for one test.
type backends struct {
	name string
	open func(t testing.TB) (storage.Store, catalog.Catalog)
}

// memoryBackends is the embedded default: filesystem storage in a temp dir
// and the in-memory catalog.
var memoryBackends = backends{name: "fs+memory", open: func(t testing.TB) (storage.Store, catalog.Catalog) {
	t.Helper()
	st, err := fs.New(fs.Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cat := memory.New(nil)
	t.Cleanup(func() { st.Close(); cat.Close() })
	return st, cat
}}

// allBackends lists every backend pair the tests run against; the
// production pair (MinIO + Redis) is added by backends_prod_test.go.
var allBackends = []backends{memoryBackends}

func forEachBackend(t *testing.T, fn func(*testing.T, backends)) {
	for _, b := range allBackends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

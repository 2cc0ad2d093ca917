package hub

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/huren-health/huren/catalog"
	catbolt "github.com/huren-health/huren/catalog/bolt"
	"github.com/huren-health/huren/storage"
	storeopen "github.com/huren-health/huren/storage/open"
)

// withCatalogFile opens the stopped hub's catalog file for fn.
func withCatalogFile(t *testing.T, cfg Config, fn func(c *catbolt.Catalog)) {
	t.Helper()
	c, err := catbolt.Open(filepath.Join(cfg.DataDir, CatalogFile), catbolt.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fn(c)
}

func studyCount(t *testing.T, base, token string) int {
	t.Helper()
	return len(getJSON(t, base+"/dicom-web/studies", token, http.StatusOK).([]any))
}

// TestEmbeddedCatalogCatchUp: an original whose catalog write was lost (a
// crash between the object write and the catalog write) is indexed at the
// next start from the journal — without the start listing the store.
func TestEmbeddedCatalogCatchUp(t *testing.T) {
	ctx := context.Background()
	cfg := embeddedConfig(t)
	base, srv, stop := startHub(t, cfg)
	token := deviceToken(t, srv)
	stowFile(t, base, token, testFile)
	stop()

	// What a crash after the object write leaves: the original (and the
	// journal entry written before it), no record.
	var key string
	withCatalogFile(t, cfg, func(c *catbolt.Catalog) {
		res, err := c.Search(ctx, catalog.Query{Level: catalog.InstanceLevel})
		if err != nil || len(res) != 1 {
			t.Fatalf("catalog file: %d instances, %v", len(res), err)
		}
		rec, err := c.Instance(ctx, res[0].String(catalog.TagSOPInstanceUID))
		if err != nil {
			t.Fatal(err)
		}
		key = rec.ObjectKey
		if err := c.Delete(ctx, rec.InstanceUID); err != nil {
			t.Fatal(err)
		}
	})
	// Without a journal entry the start does not look for it: the start
	// cost does not grow with the archive.
	base, _, stop = startHub(t, cfg)
	if n := studyCount(t, base, token); n != 0 {
		t.Fatalf("start listed the store: %d studies", n)
	}
	stop()
	// The metadata object is written lazily and may be lost too: the
	// catch-up derives it again from the original.
	store, err := storeopen.Open(ctx, filepath.Join(cfg.DataDir, "objects"), nil)
	if err != nil {
		t.Fatal(err)
	}
	metaKey := "meta/" + strings.TrimSuffix(strings.TrimPrefix(key, "dicom/"), ".dcm") + ".json"
	if _, err := store.Stat(ctx, metaKey); err != nil {
		t.Fatalf("metadata object: %v", err)
	}
	if err := store.Delete(ctx, metaKey); err != nil {
		t.Fatal(err)
	}
	store.Close()
	withCatalogFile(t, cfg, func(c *catbolt.Catalog) {
		if err := c.MarkPending(key); err != nil {
			t.Fatal(err)
		}
		if err := c.MarkPending("dicom/1.2.3/1.2.3.4/1.2.3.4.5.dcm"); err != nil { // never written
			t.Fatal(err)
		}
	})
	base, _, stop = startHub(t, cfg)
	if n := studyCount(t, base, token); n != 1 {
		t.Fatalf("after catch-up: %d studies, want 1", n)
	}
	stop()
	withCatalogFile(t, cfg, func(c *catbolt.Catalog) {
		if p, err := c.Pending(); err != nil || len(p) != 0 {
			t.Fatalf("journal after catch-up: %q, %v", p, err)
		}
	})
}

// TestEmbeddedCatalogFileDeleted: the catalog file is derived state; a
// hub started without it rebuilds it from the objects.
func TestEmbeddedCatalogFileDeleted(t *testing.T) {
	cfg := embeddedConfig(t)
	base, srv, stop := startHub(t, cfg)
	token := deviceToken(t, srv)
	stowFile(t, base, token, testFile)
	stop()
	if err := os.Remove(filepath.Join(cfg.DataDir, CatalogFile)); err != nil {
		t.Fatal(err)
	}
	base, _, stop = startHub(t, cfg)
	defer stop()
	if n := studyCount(t, base, token); n != 1 {
		t.Fatalf("after deleting the catalog file: %d studies, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, CatalogFile)); err != nil {
		t.Fatalf("catalog file not recreated: %v", err)
	}
}

// failingStore loses every write, as a crash during the object write would.
type failingStore struct{ storage.Store }

func (failingStore) PutIfAbsent(context.Context, string, io.Reader, storage.PutOptions) (storage.Info, error) {
	return storage.Info{}, errors.New("crash")
}

// TestJournalBeforeWrite: ingest's store journals an original before
// writing it, so the entry exists whatever happens to the write.
func TestJournalBeforeWrite(t *testing.T) {
	c, err := catbolt.Open(filepath.Join(t.TempDir(), CatalogFile), catbolt.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := ingestStore(failingStore{}, c)
	const key = "dicom/1.2/1.2.3/1.2.3.4.dcm"
	if _, err := s.PutIfAbsent(context.Background(), key, strings.NewReader("x"), storage.PutOptions{}); err == nil {
		t.Fatal("write did not fail")
	}
	if p, err := c.Pending(); err != nil || len(p) != 1 || p[0] != key {
		t.Fatalf("journal = %q, %v; want [%s]", p, err, key)
	}
}

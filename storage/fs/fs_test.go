package fs

import (
	"testing"

	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/storagetest"
)

func newStore(t *testing.T) storage.Store {
	s, err := New(Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) { storagetest.Run(t, newStore) }

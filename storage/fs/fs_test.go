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

// TestStoreNamedTemp runs the contract on the commit path used where
// O_TMPFILE is missing (named, locked temp files; fsync, link, fsync dir).
func TestStoreNamedTemp(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := New(Config{Root: t.TempDir()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.anon = false
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// The machines Huren runs on (ext4, XFS, tmpfs) have O_TMPFILE: the fast
// commit path must be the one in use, or the benchmarks measure the other.
func TestAnonymousFilesInUse(t *testing.T) {
	s, err := New(Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !s.anon {
		t.Fatal("O_TMPFILE + linkat probe failed on this filesystem; PutIfAbsent falls back to named temp files")
	}
}

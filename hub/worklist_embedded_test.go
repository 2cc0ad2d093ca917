package hub

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	catbolt "github.com/huren-health/huren/catalog/bolt"
	"github.com/huren-health/huren/storage"
	storeopen "github.com/huren-health/huren/storage/open"
	"github.com/huren-health/huren/worklist"
	wlopen "github.com/huren-health/huren/worklist/open"
)

func createdEvent(i int) worklist.Event {
	return worklist.Event{Seq: int64(i + 1), At: 1_767_225_600_000 + int64(i), Task: fmt.Sprintf("t%04d", i), Type: worklist.EvCreated,
		Group: DefaultReadingGroup, Site: "town-a", Stage: worklist.StageRead, State: worklist.Queued, Priority: worklist.Routine,
		Created: 1_767_225_600_000, Version: 1,
		Doc: &worklist.Doc{Kind: worklist.KindStudy, Ref: fmt.Sprintf("1.2.3.%d", i), Site: "town-a"}}
}

func loadTasks(t *testing.T, store storage.Store, c *catbolt.Catalog) int {
	t.Helper()
	ctx := context.Background()
	q, err := wlopen.Open(ctx, wlopen.Config{Backend: "memory", Queue: worklist.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	n, err := loadEmbeddedWorklist(ctx, q, store, c, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestEmbeddedWorklistCopy: the first start copies the task events from
// storage into the catalog file; later starts load them from the file
// (here: with storage's events gone, the tasks are still found), and
// events written through the mirror reach both.
func TestEmbeddedWorklistCopy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := storeopen.Open(ctx, filepath.Join(dir, "objects"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for i := range 3 {
		if err := worklist.WriteEvent(ctx, store, createdEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := catbolt.Open(filepath.Join(dir, CatalogFile), catbolt.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n := loadTasks(t, store, c); n != 3 {
		t.Fatalf("first load: %d tasks, want 3", n)
	}
	// A new task's event, written as the queue writes it.
	if err := worklist.WriteEvent(ctx, worklistStore(store, c), createdEvent(3)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Stat(ctx, createdEvent(3).ObjectKey()); err != nil {
		t.Fatalf("mirrored event not in storage: %v", err)
	}
	for i := range 4 {
		if err := store.Delete(ctx, createdEvent(i).ObjectKey()); err != nil {
			t.Fatal(err)
		}
	}
	if n := loadTasks(t, store, c); n != 4 {
		t.Fatalf("load from the file: %d tasks, want 4", n)
	}
	// After ResetEvents (huren reindex) storage is the source again.
	if err := c.ResetEvents(); err != nil {
		t.Fatal(err)
	}
	if n := loadTasks(t, store, c); n != 0 {
		t.Fatalf("after ResetEvents: %d tasks, want storage's 0", n)
	}
}

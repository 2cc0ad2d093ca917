package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/huren-health/huren/storage"
)

// The same file keeps a copy of the in-process worklist's task events, so
// the worklist is loaded at start from one file instead of tens of
// thousands of small objects (one per event: 4.7 s for 10,000 tasks on the
// shared machine, growing with the archive). Like the catalog it is
// derived: storage's tasks/ objects stay the truth, and a file without a
// complete copy (new, another format, ResetEvents) is filled from storage
// at the next start.
var (
	bEvents        = []byte("wlev") // event object key → event JSON
	keyEventsReady = []byte("events-complete")
)

// PutEvent records an event object's bytes under its storage key.
func (c *Catalog) PutEvent(key string, b []byte) error {
	return c.fail("event", c.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bEvents).Put([]byte(key), b)
	}))
}

// EventsComplete reports whether the events copy holds everything in
// storage (MarkEventsComplete was called after a copy from storage).
func (c *Catalog) EventsComplete() (bool, error) {
	var ok bool
	err := c.db.View(func(tx *bbolt.Tx) error {
		ok = string(tx.Bucket(bMeta).Get(keyEventsReady)) == "1"
		return nil
	})
	return ok, c.fail("events", err)
}

// MarkEventsComplete records that the copy is complete.
func (c *Catalog) MarkEventsComplete() error {
	return c.fail("events", c.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bMeta).Put(keyEventsReady, []byte("1"))
	}))
}

// ResetEvents empties the copy; the next start fills it from storage.
func (c *Catalog) ResetEvents() error {
	return c.fail("events", c.db.Update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bMeta).Delete(keyEventsReady); err != nil {
			return err
		}
		if err := tx.DeleteBucket(bEvents); err != nil && !errors.Is(err, bbolt.ErrBucketNotFound) {
			return err
		}
		_, err := tx.CreateBucket(bEvents)
		return err
	}))
}

// PutEvents records many events in one transaction (the copy from storage).
func (c *Catalog) PutEvents(kv map[string][]byte) error {
	return c.fail("events", c.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bEvents)
		for k, v := range kv {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	}))
}

// EventStore is the events copy as a read-only storage.Store, for the
// worklist's Rebuild (which lists and reads tasks/…/events/…).
func (c *Catalog) EventStore() storage.Store { return &eventStore{c: c} }

// eventStore serves a Get of the key List is visiting from the value in
// hand (Rebuild reads each listed event at once) instead of a transaction
// per event. Not for concurrent use.
type eventStore struct {
	c              *Catalog
	curKey, curVal []byte // the entry List's callback runs for
}

var errReadOnly = errors.New("catalog bolt: the events copy is read-only")

func (s *eventStore) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	defer func() { s.curKey, s.curVal = nil, nil }()
	return s.c.db.View(func(tx *bbolt.Tx) error {
		cur := tx.Bucket(bEvents).Cursor()
		p := []byte(prefix)
		for k, v := cur.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = cur.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			s.curKey, s.curVal = k, v
			if err := fn(storage.Info{Key: string(k), Size: int64(len(v))}); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *eventStore) Get(ctx context.Context, key string) (io.ReadCloser, storage.Info, error) {
	if s.curKey != nil && string(s.curKey) == key {
		b := bytes.Clone(s.curVal)
		return io.NopCloser(bytes.NewReader(b)), storage.Info{Key: key, Size: int64(len(b))}, nil
	}
	var b []byte
	err := s.c.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bEvents).Get([]byte(key)); v != nil {
			b = bytes.Clone(v)
		}
		return nil
	})
	if err != nil {
		return nil, storage.Info{}, err
	}
	if b == nil {
		return nil, storage.Info{}, fmt.Errorf("%s: %w", key, storage.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), storage.Info{Key: key, Size: int64(len(b))}, nil
}

func (s *eventStore) Stat(ctx context.Context, key string) (storage.Info, error) {
	_, info, err := s.Get(ctx, key)
	return info, err
}

func (s *eventStore) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	return nil, errReadOnly
}

func (s *eventStore) Put(context.Context, string, io.Reader, storage.PutOptions) (storage.Info, error) {
	return storage.Info{}, errReadOnly
}

func (s *eventStore) PutIfAbsent(context.Context, string, io.Reader, storage.PutOptions) (storage.Info, error) {
	return storage.Info{}, errReadOnly
}

func (s *eventStore) Delete(context.Context, string) error { return errReadOnly }
func (s *eventStore) Close() error                         { return nil }

// IsEventKey reports whether key is a worklist event object.
func IsEventKey(key string) bool {
	return strings.HasPrefix(key, "tasks/") && strings.Contains(key, "/events/") && strings.HasSuffix(key, ".json")
}

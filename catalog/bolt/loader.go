package bolt

import (
	"context"
	"sync"

	bbolt "go.etcd.io/bbolt"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomjson"
)

// loaderBatch is how many records a Loader commits per transaction: one
// fsync per batch instead of per record (a rebuild of 1,000,000 instances
// would otherwise spend most of its time waiting for the disk).
const loaderBatch = 2000

// Loader is a catalog.Catalog for rebuilding (ingest.Reindex): Put buffers
// records and commits them in batches, so a Put is not visible (nor
// durable) before the next batch or Flush. Everything else flushes first
// and then acts on the Catalog. Use it with no one else writing.
type Loader struct {
	c   *Catalog
	mu  sync.Mutex // guards buf (Reindex puts from one goroutine; others may too)
	buf []catalog.Record
}

var _ catalog.Catalog = (*Loader)(nil)

// Loader returns a batching writer for rebuilds; call Flush at the end.
func (c *Catalog) Loader() *Loader { return &Loader{c: c} }

// Put buffers rec (validated now: an invalid record is refused at once).
func (l *Loader) Put(ctx context.Context, rec catalog.Record) error {
	rec, err := catalog.Normalize(rec)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, rec)
	if len(l.buf) >= loaderBatch {
		return l.flush()
	}
	return nil
}

// Flush commits the buffered records in one transaction.
func (l *Loader) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flush()
}

func (l *Loader) flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	c := l.c
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.db.Update(func(tx *bbolt.Tx) error {
		for _, rec := range l.buf {
			if err := putTx(tx, rec); err != nil {
				return err
			}
		}
		return nil
	})
	for _, rec := range l.buf {
		c.invalidate(rec.StudyUID)
	}
	l.buf = l.buf[:0]
	return c.fail("load", err)
}

// Instance implements catalog.Catalog.
func (l *Loader) Instance(ctx context.Context, uid string) (catalog.Record, error) {
	if err := l.Flush(); err != nil {
		return catalog.Record{}, err
	}
	return l.c.Instance(ctx, uid)
}

// Instances implements catalog.Catalog.
func (l *Loader) Instances(ctx context.Context, studyUID, seriesUID string) ([]catalog.Record, error) {
	if err := l.Flush(); err != nil {
		return nil, err
	}
	return l.c.Instances(ctx, studyUID, seriesUID)
}

// Search implements catalog.Catalog.
func (l *Loader) Search(ctx context.Context, q catalog.Query) ([]dicomjson.Dataset, error) {
	if err := l.Flush(); err != nil {
		return nil, err
	}
	return l.c.Search(ctx, q)
}

// Delete implements catalog.Catalog.
func (l *Loader) Delete(ctx context.Context, uid string) error {
	if err := l.Flush(); err != nil {
		return err
	}
	return l.c.Delete(ctx, uid)
}

// Reset drops the buffer and resets the Catalog.
func (l *Loader) Reset(ctx context.Context) error {
	l.mu.Lock()
	l.buf = l.buf[:0]
	l.mu.Unlock()
	return l.c.Reset(ctx)
}

// Close flushes; the Catalog stays open (its owner closes it).
func (l *Loader) Close() error { return l.Flush() }

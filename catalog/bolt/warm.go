package bolt

import (
	"bytes"
	"context"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// warmChunk is how many studies Warm decodes per read lock: writers wait
// at most one chunk (a few milliseconds).
const warmChunk = 500

// Warm decodes the study summaries into the cache, newest first (what
// study lists show), up to the cache's bound, so that searches that walk
// many studies (a rare modality, a patient-name infix, a site scope) cost
// what they cost on the in-memory catalog. The hub runs it in the
// background after start: start itself reads nothing. It returns the
// number of studies decoded.
func (c *Catalog) Warm(ctx context.Context) (int, error) {
	var last []byte
	n := 0
	for n < c.cacheMax {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		done := false
		c.mu.RLock()
		err := c.db.View(func(tx *bbolt.Tx) error {
			cur := tx.Bucket(bOrder).Cursor()
			var k []byte
			if last == nil {
				k, _ = cur.Last()
			} else {
				// Resume below the last key decoded (cursors do not
				// outlive their transaction).
				if k, _ = cur.Seek(last); k == nil {
					k, _ = cur.Last()
				}
				if k != nil && bytes.Compare(k, last) >= 0 {
					k, _ = cur.Prev()
				}
			}
			for i := 0; i < warmChunk; i, k = i+1, nextKey(cur) {
				if k == nil {
					done = true
					return nil
				}
				if _, err := c.study(tx, string(k[8:])); err != nil {
					return err
				}
				last = append(last[:0], k...)
				n++
			}
			return nil
		})
		c.mu.RUnlock()
		if err != nil {
			return n, c.fail("warm", err)
		}
		if done {
			return n, nil
		}
	}
	return n, nil
}

func nextKey(cur *bbolt.Cursor) []byte {
	k, _ := cur.Prev()
	return k
}

// StartWarm runs Warm in the background until it is done or Close.
func (c *Catalog) StartWarm() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	c.warmStop = func() { cancel(); <-done }
	go func() {
		defer close(done)
		t0 := time.Now()
		n, err := c.Warm(ctx)
		if err != nil && ctx.Err() == nil {
			c.log.Error("warming the catalog cache failed; searches read the file instead", "studies", n, "err", err)
			return
		}
		c.log.Info("catalog cache warm", "studies", n, "took", time.Since(t0).Round(time.Millisecond))
	}()
}

package worklist

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/huren-health/huren/catalog"
)

// RecoverStats reports what Recover did.
type RecoverStats struct {
	// Studies in the catalog.
	Studies int
	// Missing: studies without a task, now queued for one.
	Missing int
}

// recoverPage is how many studies Recover reads from the catalog and checks
// against the queue at a time (one catalog page, one KeyIndex call).
const recoverPage = 1000

// Recover finds every study of the catalog that has no task — a study whose
// quiet period was cut short by a crash, or whose instances were indexed
// by a reindex or a reconcile — and queues it as if its instances had just
// been seen here: its task is created once the study has been quiet for the
// quiet period since its last instance arrived (at once for older ones).
// The task is created only if none exists by then (NewTask.IfAbsent), so
// several replicas recovering together, or a replica still receiving the
// study, never produce a second task or touch a reported one.
//
// It needs TrackerConfig.Catalog and a queue implementing KeyIndex. It
// returns when every study has been checked; the tasks follow on the
// tracker's timers.
func (t *Tracker) Recover(ctx context.Context) (RecoverStats, error) {
	var st RecoverStats
	if t.cfg.Catalog == nil {
		return st, fmt.Errorf("worklist recover: no catalog configured: %w", ErrInvalid)
	}
	ki, ok := t.cfg.Queue.(KeyIndex)
	if !ok {
		return st, fmt.Errorf("worklist recover: queue %T cannot look up tasks by key: %w", t.cfg.Queue, ErrInvalid)
	}
	for offset := 0; ; {
		// Pages follow the catalog's stable order; a study indexed during
		// the walk may shift a page by one (seen twice, harmless) and is
		// being observed live anyway.
		page, err := t.cfg.Catalog.Search(ctx, catalog.Query{Level: catalog.StudyLevel, Limit: recoverPage, Offset: offset})
		if err != nil {
			return st, fmt.Errorf("worklist recover: list studies at offset %d: %w", offset, err)
		}
		uids := make([]string, 0, len(page))
		keys := make([]string, 0, len(page))
		for _, ds := range page {
			if uid := ds.String(catalog.TagStudyInstanceUID); uid != "" {
				uids = append(uids, uid)
				keys = append(keys, Doc{Kind: KindStudy, Ref: uid}.Key())
			}
		}
		ids, err := ki.TaskIDs(ctx, keys)
		if err != nil {
			return st, fmt.Errorf("worklist recover: look up tasks: %w", err)
		}
		st.Studies += len(uids)
		for i, uid := range uids {
			if ids[i] != "" {
				continue
			}
			queued, err := t.recoverStudy(ctx, uid)
			if err != nil {
				return st, err
			}
			if queued {
				st.Missing++
			}
		}
		if len(page) < recoverPage {
			break
		}
		offset += len(page)
	}
	t.log.Info("worklist recovery: studies checked", "studies", st.Studies, "without_task", st.Missing)
	return st, nil
}

// recoverStudy queues one study without a task; false if it vanished or is
// already pending here (its live path creates the task).
func (t *Tracker) recoverStudy(ctx context.Context, uid string) (bool, error) {
	recs, err := t.cfg.Catalog.Instances(ctx, uid, "")
	if errors.Is(err, catalog.ErrNotFound) || err == nil && len(recs) == 0 {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("worklist recover: study %s: %w", uid, err)
	}
	p := &pendingStudy{series: map[string]struct{}{}, instances: map[string]struct{}{}, recovered: true}
	var last time.Time
	for i, rec := range recs {
		s := StoredFromRecord(rec)
		if i == 0 {
			p.s = s
		} else {
			mergeStored(&p.s, s)
		}
		p.series[rec.SeriesUID] = struct{}{}
		p.instances[rec.InstanceUID] = struct{}{}
		if rec.ReceivedAt.After(last) {
			last = rec.ReceivedAt
		}
	}
	delay := max(0, last.Add(t.quiet).Sub(t.now()))
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		return false, fmt.Errorf("worklist recover: tracker closed: %w", ErrUnavailable)
	}
	if _, ok := t.pending[uid]; ok {
		return false, nil
	}
	t.pending[uid] = p
	p.timer = time.AfterFunc(delay, func() { t.flushAsync(uid) })
	return true, nil
}

package worklist_test

import (
	"context"
	"testing"
	"time"

	catmemory "github.com/huren-health/huren/catalog/memory"
	"github.com/huren-health/huren/internal/testbackend"
	"github.com/huren-health/huren/worklist"
	"github.com/huren-health/huren/worklist/memory"
	"github.com/huren-health/huren/worklist/open"
)

// A crash in the quiet period leaves a study with instances and no task:
// Recover gives it exactly one, even with two replicas recovering at once,
// and leaves a study that already has a task untouched.
func TestRecoverCreatesMissingTasksOnce(t *testing.T) {
	backends := map[string]func(t *testing.T) worklist.Queue{
		"memory": func(t *testing.T) worklist.Queue { return memory.New(worklist.Config{}) },
		"redis": func(t *testing.T) worklist.Queue {
			addr := testbackend.RedisAddr(t)
			q, err := open.Open(context.Background(), open.Config{Backend: "redis", RedisURL: "redis://" + addr,
				Prefix: testbackend.UniqueName("wlrecover-")})
			if err != nil {
				t.Fatal(err)
			}
			return q
		},
	}
	for name, newQueue := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			q := newQueue(t)
			defer q.Close()
			cat := catmemory.New(nil)
			for _, rec := range []struct{ study, series, sop string }{
				{"7.1", "7.1.1", "7.1.1.1"}, {"7.1", "7.1.1", "7.1.1.2"}, {"7.1", "7.1.2", "7.1.2.1"},
				{"7.2", "7.2.1", "7.2.1.1"},
			} {
				if err := cat.Put(ctx, record(rec.study, rec.series, rec.sop, "CT")); err != nil {
					t.Fatal(err)
				}
			}
			router := worklist.NewRouter(loadRules(t))
			// 7.2 already has its task (created before the crash).
			pre, _, err := q.Upsert(ctx, worklist.NewTask{Doc: worklist.Doc{Kind: worklist.KindStudy, Ref: "7.2", Site: "township-a"},
				Group: "g", Due: time.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			// Two replicas restart together and both recover.
			var trackers []*worklist.Tracker
			for range 2 {
				tr := worklist.NewTracker(worklist.TrackerConfig{Queue: q, Router: router, Quiet: time.Millisecond, Catalog: cat})
				defer tr.Close(ctx)
				st, err := tr.Recover(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if st.Studies != 2 || st.Missing > 1 {
					t.Fatalf("stats %+v", st)
				}
				trackers = append(trackers, tr)
			}
			for _, tr := range trackers {
				for tr.Pending() != 0 {
					time.Sleep(time.Millisecond)
				}
			}
			page, err := q.List(ctx, worklist.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != 2 {
				t.Fatalf("%d tasks, want 2: %+v", page.Total, page.Tasks)
			}
			for _, task := range page.Tasks {
				full, err := q.Get(ctx, task.ID)
				if err != nil {
					t.Fatal(err)
				}
				switch task.Ref {
				case "7.1":
					if task.Instances != 3 || task.Series != 2 || task.Site != "township-a" || len(full.History) != 1 {
						t.Errorf("recovered task %+v, %d events", task, len(full.History))
					}
				case "7.2":
					if task.ID != pre.ID || full.Version != pre.Version {
						t.Errorf("existing task changed: %+v (was %+v)", full, pre)
					}
				}
			}
		})
	}
}

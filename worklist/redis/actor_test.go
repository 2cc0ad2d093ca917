package redis

import (
	"context"
	"testing"
	"time"

	"github.com/huren-health/huren/worklist"
	"github.com/huren-health/huren/worklist/memory"
)

// TestUpsertActor: the events of Upsert name NewTask.Actor — the caller of
// a task requested through the API (issue 14, finding 3) — and the engine
// when it is empty, identically on both backends.
func TestUpsertActor(t *testing.T) {
	for name, q := range map[string]worklist.Queue{
		"redis":  testQueue(t, worklist.Config{Lease: time.Minute}),
		"memory": memory.New(worklist.Config{Lease: time.Minute}),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			nt := worklist.NewTask{Doc: worklist.Doc{Kind: worklist.KindECG, Ref: "ecg-1", Site: "town-a"},
				Group: "ecg", Due: time.Now().Add(time.Hour)}
			if _, _, err := q.Upsert(ctx, nt); err != nil {
				t.Fatal(err)
			}
			nt.Actor = "device-a"
			task, _, err := q.Upsert(ctx, nt)
			if err != nil {
				t.Fatal(err)
			}
			got, err := q.Get(ctx, task.ID)
			if err != nil {
				t.Fatal(err)
			}
			var actors []string
			for _, e := range got.History {
				actors = append(actors, e.Actor)
			}
			if len(actors) != 2 || actors[0] != worklist.System.ID || actors[1] != "device-a" {
				t.Errorf("event actors %v, want [system device-a]", actors)
			}
		})
	}
}

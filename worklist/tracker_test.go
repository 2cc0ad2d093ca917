package worklist_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomjson"
	"github.com/huren-health/huren/worklist"
	"github.com/huren-health/huren/worklist/memory"
)

func waitEvent(t *testing.T, sub worklist.Subscription, typ worklist.EventType) worklist.Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e := <-sub.C():
			if e.Type == typ {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event", typ)
		}
	}
}

func record(study, series, sop, modality string) catalog.Record {
	a := dicomjson.Dataset{}
	a.Set("00080060", "CS", modality)
	a.Set("00180015", "CS", "HEAD")
	a.Set("00100020", "LO", "P001")
	a.Set("00100010", "PN", map[string]any{"Alphabetic": "Zhang^San"})
	return catalog.Record{StudyUID: study, SeriesUID: series, InstanceUID: sop, Site: "township-a", Attrs: a}
}

func TestTrackerQuietPeriod(t *testing.T) {
	ctx := context.Background()
	q := memory.New(worklist.Config{})
	defer q.Close()
	sub, _ := q.Subscribe(ctx)
	defer sub.Close()
	// A weekday morning in China: testdata/rules.json sends head CTs to
	// the night reading group from 22:00 to 08:00, so with the real clock
	// this test failed between 14:00 and 00:00 UTC.
	morning := time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	tr := worklist.NewTracker(worklist.TrackerConfig{Queue: q, Router: worklist.NewRouter(loadRules(t)), Quiet: 100 * time.Millisecond,
		Now: func() time.Time { return morning }})
	defer tr.Close(ctx)
	for i, sop := range []string{"1.1", "1.2", "1.3"} {
		series := "s1"
		if i == 2 {
			series = "s2"
		}
		if err := tr.OnStored(ctx, record("9.9", series, sop, "CT")); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.OnStored(ctx, record("9.9", "s2", "1.3", "CT")); err != nil { // re-sent instance
		t.Fatal(err)
	}
	e := waitEvent(t, sub, worklist.EvCreated)
	task, err := q.Get(ctx, e.Task)
	if err != nil {
		t.Fatal(err)
	}
	if task.Ref != "9.9" || task.Instances != 3 || task.Series != 2 || task.Modality != "CT" || task.BodyPart != "HEAD" ||
		task.PatientID != "P001" || task.PatientName != "Zhang^San" || task.Site != "township-a" || task.Group != "县医院影像科" {
		t.Fatalf("task %+v", task)
	}
	// The event is published inside Upsert, just before the tracker
	// forgets the study; wait for that.
	for deadline := time.Now().Add(10 * time.Second); tr.Pending() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d studies still pending", tr.Pending())
		}
	}
	// Reported, then a late instance: flagged, not a second task.
	c, _ := q.Claim(ctx, worklist.Actor{ID: "dr", Groups: []string{task.Group}, Senior: true}, task.ID)
	if _, err := q.Complete(ctx, worklist.Actor{ID: "dr", Groups: []string{task.Group}, Senior: true}, task.ID, c.LeaseToken); err != nil {
		t.Fatal(err)
	}
	if err := tr.OnStored(ctx, record("9.9", "s3", "1.4", "CT")); err != nil {
		t.Fatal(err)
	}
	f, err := tr.StudyComplete(ctx, "9.9")
	if err != nil {
		t.Fatal(err)
	}
	if f.ID != task.ID || !f.HasFlag(worklist.FlagImagesAdded) || f.State != worklist.Done {
		t.Fatalf("late instance: %+v", f)
	}
	if _, err := tr.StudyComplete(ctx, "9.9"); !errors.Is(err, worklist.ErrNotFound) {
		t.Fatalf("StudyComplete with nothing pending: %v", err)
	}
}

func TestTrackerCriticalECGJumpsQueue(t *testing.T) {
	ctx := context.Background()
	q := memory.New(worklist.Config{})
	defer q.Close()
	tr := worklist.NewTracker(worklist.TrackerConfig{Queue: q, Router: worklist.NewRouter(loadRules(t))})
	defer tr.Close(ctx)
	for _, id := range []string{"ecg-1", "ecg-2", "ecg-3"} {
		if _, err := tr.SubmitECG(ctx, worklist.ECG{ID: id, Site: "village-2"}); err != nil {
			t.Fatal(err)
		}
	}
	crit, err := tr.SubmitECG(ctx, worklist.ECG{ID: "ecg-stemi", Site: "village-3", Priority: worklist.Critical})
	if err != nil {
		t.Fatal(err)
	}
	if crit.Group != "心电中心" || crit.Priority != worklist.Critical {
		t.Fatalf("critical ECG routed to %s/%s", crit.Group, crit.Priority)
	}
	got, err := q.ClaimNext(ctx, worklist.Actor{ID: "ecg-dr", Groups: []string{"心电中心"}}, "心电中心", worklist.StageRead)
	if err != nil || got.Ref != "ecg-stemi" {
		t.Fatalf("first claim %s (%v), want the critical ECG", got.Ref, err)
	}
}

func TestEscalator(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	q := memory.New(worklist.Config{Now: clock})
	defer q.Close()
	up := func(ref string, p worklist.Priority, due time.Duration) worklist.Task {
		task, _, err := q.Upsert(ctx, worklist.NewTask{Doc: worklist.Doc{Kind: worklist.KindStudy, Ref: ref}, Group: "g", Priority: p, Due: now.Add(due)})
		if err != nil {
			t.Fatal(err)
		}
		return task
	}
	far := up("far", worklist.Routine, 5*time.Hour)
	near := up("near", worklist.Routine, 10*time.Minute)
	late := up("late", worklist.Urgent, time.Hour)
	crit := up("crit", worklist.Critical, time.Hour)
	esc := worklist.NewEscalator(worklist.EscalatorConfig{Queue: q, Now: clock})
	n, err := esc.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("first sweep: %d escalations (%v), want 1 (near)", n, err)
	}
	now = now.Add(2 * time.Hour) // late and crit are past due; crit unclaimed for 2h
	n, err = esc.Sweep(ctx)
	if err != nil || n != 4 {
		t.Fatalf("second sweep: %d (%v), want near, late, crit breached + crit alert", n, err)
	}
	if n, _ := esc.Sweep(ctx); n != 0 {
		t.Fatalf("repeated sweep escalated %d again", n)
	}
	want := map[string]worklist.Priority{far.ID: worklist.Routine, near.ID: worklist.STAT, late.ID: worklist.STAT, crit.ID: worklist.Critical}
	for id, p := range want {
		got, _ := q.Get(ctx, id)
		if got.Priority != p {
			t.Errorf("%s priority %s, want %s (flags %v)", got.Ref, got.Priority, p, got.Flags)
		}
	}
	got, _ := q.Get(ctx, crit.ID)
	if !got.HasFlag(worklist.FlagCriticalUnclaimed) || got.History[len(got.History)-1].Type != worklist.EvAlert {
		t.Fatalf("critical unclaimed: flags %v", got.Flags)
	}
}

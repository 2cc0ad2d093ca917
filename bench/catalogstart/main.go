// Command catalogstart measures the embedded default's start time and QIDO
// latency with a large catalog, before (in-memory catalog rebuilt at every
// start) and after (catalog/bolt file under the data directory).
//
// Records are synthetic, generated directly (not DICOM uploads: a million
// STOWs are not feasible on the shared 2-core machine): catalogtest's
// BenchRecord study mix (30,000 patients, 2020–2026, CT/DX/US/MR/MG, 20
// sites), each study with -per-study instances in series of 5.
//
//	catalogstart gen    -data DIR -n 1000000 -per-study 10   # writes DIR/catalog.bolt (timed)
//	catalogstart start  -data DIR                             # hub.Open on DIR: the start the operator waits for
//	catalogstart memory -n 1000000 -per-study 10              # before: rebuilding the memory catalog (Puts only)
//	catalogstart qido   -data DIR -n N -per-study K -reps 50  # BenchQueries on memory vs the file, p50/p99
//	catalogstart worklist -data DIR -tasks 10000              # the in-process worklist's load at start
//
// "memory" times only the catalog Puts of a rebuild, a lower bound of the
// old start: the real one also lists and reads every metadata object from
// storage (30 s for 10,500 instances in issue 14, ~2.9 ms each).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"time"

	"github.com/huren-health/huren/catalog"
	catbolt "github.com/huren-health/huren/catalog/bolt"
	"github.com/huren-health/huren/catalog/catalogtest"
	catmemory "github.com/huren-health/huren/catalog/memory"
	"github.com/huren-health/huren/hub"
	"github.com/huren-health/huren/storage"
	storeopen "github.com/huren-health/huren/storage/open"
	"github.com/huren-health/huren/worklist"
	wlopen "github.com/huren-health/huren/worklist/open"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: catalogstart gen|start|memory|qido [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	data := fs.String("data", "", "data directory (catalog file: DIR/"+hub.CatalogFile+")")
	n := fs.Int("n", 100_000, "instances")
	per := fs.Int("per-study", 10, "instances per study (series of 5)")
	reps := fs.Int("reps", 50, "searches per query shape")
	tasks := fs.Int("tasks", 10_000, "worklist: reading tasks (4 events each: created, claimed, completed, signed-off update)")
	prof := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	fs.Parse(os.Args[2:])
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "catalogstart:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(ctx, *data, *n, *per)
	case "start":
		err = start(ctx, *data)
	case "memory":
		err = memory(ctx, *n, *per)
	case "qido":
		err = qido(ctx, *data, *n, *per, *reps)
	case "worklist":
		err = worklistLoad(ctx, *data, *tasks)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "catalogstart:", err)
		os.Exit(1)
	}
}

// records calls fn for n synthetic instances, per to a study.
func records(n, per int, fn func(catalog.Record) error) error {
	r := rand.New(rand.NewPCG(1, 2))
	for s := 0; s*per < n; s++ {
		base := catalogtest.BenchRecord(r, s)
		for j := 0; j < per && s*per+j < n; j++ {
			rec := base
			rec.Attrs = base.Attrs.Clone()
			se, in := j/5+1, j%5+1
			rec.SeriesUID = fmt.Sprintf("%s.%d", base.StudyUID, se)
			rec.InstanceUID = fmt.Sprintf("%s.%d.%d", base.StudyUID, se, in)
			rec.Attrs.Set(catalog.TagSeriesNumber, "IS", int64(se))
			rec.Attrs.Set(catalog.TagInstanceNumber, "IS", int64(in))
			rec.ObjectKey = fmt.Sprintf("dicom/%s/%s/%s.dcm", rec.StudyUID, rec.SeriesUID, rec.InstanceUID)
			rec.ReceivedAt = base.ReceivedAt.Add(time.Duration(j) * time.Second)
			if err := fn(rec); err != nil {
				return err
			}
		}
	}
	return nil
}

func gen(ctx context.Context, data string, n, per int) error {
	if data == "" {
		return fmt.Errorf("-data is required")
	}
	c, err := catbolt.Open(filepath.Join(data, hub.CatalogFile), catbolt.Options{}, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	t0 := time.Now()
	if err := c.Reset(ctx); err != nil {
		return err
	}
	l := c.Loader()
	done := 0
	err = records(n, per, func(rec catalog.Record) error {
		done++
		if done%100_000 == 0 {
			fmt.Fprintf(os.Stderr, "%d instances, %v\n", done, time.Since(t0).Round(time.Second))
		}
		return l.Put(ctx, rec)
	})
	if err == nil {
		err = l.Flush()
	}
	if err == nil {
		err = c.MarkComplete()
	}
	if err != nil {
		return err
	}
	st, _ := os.Stat(filepath.Join(data, hub.CatalogFile))
	fmt.Printf("gen: %d instances (%d per study) in %v; file %d MB\n", n, per, time.Since(t0).Round(time.Millisecond), st.Size()>>20)
	return nil
}

// start opens a hub on data (embedded default, empty object store besides
// the catalog file) and reports how long Open took, then one QIDO.
func start(ctx context.Context, data string) error {
	cfg := hub.Defaults()
	cfg.DataDir = data
	cfg.Listen = "127.0.0.1:0"
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t0 := time.Now()
	srv, err := hub.Open(ctx, cfg, log, io.Discard)
	if err != nil {
		return err
	}
	took := time.Since(t0)
	fmt.Printf("start: hub.Open in %v\n", took.Round(time.Millisecond))
	if err := srv.Close(); err != nil {
		return err
	}
	// What the hub does in the background after start: decode the study
	// summaries into the cache (searches are served meanwhile).
	c, err := catbolt.Open(filepath.Join(data, hub.CatalogFile), catbolt.Options{}, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	t0 = time.Now()
	n, err := c.Warm(ctx)
	if err != nil {
		return err
	}
	took = time.Since(t0)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	fmt.Printf("start: background cache warm-up: %d studies in %v; heap %d MB\n", n, took.Round(time.Millisecond), ms.HeapAlloc>>20)
	return nil
}

func memory(ctx context.Context, n, per int) error {
	c := catmemory.New(nil)
	t0 := time.Now()
	if err := records(n, per, func(rec catalog.Record) error { return c.Put(ctx, rec) }); err != nil {
		return err
	}
	took := time.Since(t0)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(c)
	fmt.Printf("memory: %d instances (%d per study) put in %v; heap %d MB\n", n, per, took.Round(time.Millisecond), ms.HeapAlloc>>20)
	return nil
}

func qido(ctx context.Context, data string, n, per, reps int) error {
	mem := catmemory.New(nil)
	if err := records(n, per, func(rec catalog.Record) error { return mem.Put(ctx, rec) }); err != nil {
		return err
	}
	bc, err := catbolt.Open(filepath.Join(data, hub.CatalogFile), catbolt.Options{}, nil)
	if err != nil {
		return err
	}
	defer bc.Close()
	fmt.Printf("| query | memory p50 / p99 ms | bolt first (cold cache) ms | bolt p50 / p99 ms | results |\n|---|---|---|---|---|\n")
	for _, bq := range catalogtest.BenchQueries {
		v, _ := url.ParseQuery(bq.Query)
		q, err := catalog.ParseQuery(catalog.StudyLevel, v)
		if err != nil {
			return err
		}
		q.Sites = bq.Sites
		t0 := time.Now()
		want, err := bc.Search(ctx, q)
		if err != nil {
			return err
		}
		first := time.Since(t0)
		got, err := mem.Search(ctx, q)
		if err != nil {
			return err
		}
		if len(got) != len(want) {
			return fmt.Errorf("%s: memory %d results, bolt %d", bq.Name, len(got), len(want))
		}
		m50, m99, err := lat(ctx, mem, q, reps)
		if err != nil {
			return err
		}
		b50, b99, err := lat(ctx, bc, q, reps)
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %.2f / %.2f | %.1f | %.2f / %.2f | %d |\n", bq.Name, m50, m99, ms(first), b50, b99, len(want))
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func lat(ctx context.Context, c catalog.Catalog, q catalog.Query, reps int) (p50, p99 float64, err error) {
	l := make([]time.Duration, reps)
	for i := range l {
		t0 := time.Now()
		if _, err := c.Search(ctx, q); err != nil {
			return 0, 0, err
		}
		l[i] = time.Since(t0)
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	rank := func(p int) time.Duration { return l[max(0, (p*len(l)+99)/100-1)] }
	return ms(rank(50)), ms(rank(99)), nil
}

// worklistLoad writes -tasks tasks' events (4 each, as a read study leaves
// them) under DIR/objects once, then times the in-process worklist's load
// from storage, the step hub.Open runs at every start.
func worklistLoad(ctx context.Context, data string, tasks int) error {
	store, err := storeopen.Open(ctx, filepath.Join(data, "objects"), nil)
	if err != nil {
		return err
	}
	defer store.Close()
	n := 0
	if err := store.List(ctx, "tasks/", func(storage.Info) error { n++; return nil }); err != nil {
		return err
	}
	if n == 0 {
		t0 := time.Now()
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
		seq := int64(0)
		for i := range tasks {
			id := fmt.Sprintf("t%08d", i)
			doc := &worklist.Doc{Kind: worklist.KindStudy, Ref: fmt.Sprintf("1.2.156.600.%d", i), Site: "site01", Modality: "CT", PatientID: "HR0000001", PatientName: "Li^Na", Series: 2, Instances: 10}
			for j, typ := range []worklist.EventType{worklist.EvCreated, worklist.EvClaimed, worklist.EvCompleted, worklist.EvUpdated} {
				seq++
				e := worklist.Event{Seq: seq, At: at + int64(i)*1000 + int64(j), Task: id, Type: typ, Group: "county-reading", Site: "site01",
					Stage: worklist.StageRead, State: worklist.Queued, Priority: worklist.Routine, Created: at, Version: int64(j + 1)}
				if j == 0 {
					e.Doc = doc
				}
				if j >= 2 {
					e.State = worklist.Done
				}
				b, err := json.Marshal(e)
				if err != nil {
					return err
				}
				if _, err := store.Put(ctx, e.ObjectKey(), bytes.NewReader(b), storage.PutOptions{Size: int64(len(b)), Lazy: true}); err != nil {
					return err
				}
			}
		}
		fmt.Printf("worklist: wrote %d tasks' events in %v\n", tasks, time.Since(t0).Round(time.Millisecond))
	}
	q, err := wlopen.Open(ctx, wlopen.Config{Backend: "memory", Queue: worklist.Config{Store: store}})
	if err != nil {
		return err
	}
	defer q.Close()
	t0 := time.Now()
	got, err := wlopen.Rebuild(ctx, q, store)
	if err != nil {
		return err
	}
	fmt.Printf("worklist: loaded %d tasks from storage in %v\n", got, time.Since(t0).Round(time.Millisecond))
	return nil
}

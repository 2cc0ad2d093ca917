package dicomweb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
)

// TestConcurrentIngestMetadata uploads a series from 4 clients while
// readers fetch its series metadata: every answer must hold at least the
// instances acknowledged before the request and at most those sent — a
// stale bundle is never served — and the final answer holds all of them.
func TestConcurrentIngestMetadata(t *testing.T) {
	e := newEnv(t, memoryBackends, 0)
	files := seriesFiles(t)
	first := readFile(t, files[0])
	res, err := e.svc.Ingest(context.Background(), bytes.NewReader(first), int64(len(first)), ingestSource)
	if err != nil {
		t.Fatal(err)
	}
	path := "/dicom-web/studies/" + res.StudyUID + "/series/" + res.SeriesUID + "/metadata"
	var mu sync.Mutex
	acked := 1
	var wg sync.WaitGroup
	work := make(chan []byte)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				if _, err := e.svc.Ingest(context.Background(), bytes.NewReader(d), int64(len(d)), ingestSource); err != nil {
					t.Error(err)
					continue
				}
				mu.Lock()
				acked++
				mu.Unlock()
			}
		}()
	}
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			before := acked
			mu.Unlock()
			rec := e.do("GET", path, nil, nil)
			var items []map[string]any
			if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &items) != nil {
				t.Errorf("metadata: %d", rec.Code)
				return
			}
			if len(items) < before || len(items) > len(files) {
				t.Errorf("metadata has %d items, %d were acknowledged before the request", len(items), before)
				return
			}
		}
	}()
	for _, p := range files[1:] {
		work <- readFile(t, p)
	}
	close(work)
	wg.Wait()
	close(stop)
	<-readerDone
	if err := e.svc.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := qido(t, e, path); len(got) != len(files) {
		t.Fatalf("final metadata %d items, want %d", len(got), len(files))
	}
}

package dicomweb_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/huren-health/huren/ingest"
	"github.com/huren-health/huren/internal/dicomtest"
	"github.com/huren-health/huren/storage"
)

var ingestSource = ingest.Source{Site: "bench", Via: "stow"}

func storagePut(n int) storage.PutOptions { return storage.PutOptions{Size: int64(n)} }

// benchCT returns n CT instances of 512×512 int16 (one study, one series):
// the files of $HUREN_BENCH_CT300 (default /tmp/bench-data/ct300, made by
// shared/bench/gen_series.py) when present, else synthetic ones built here.
func benchCT(b *testing.B, n int) [][]byte {
	b.Helper()
	dir := os.Getenv("HUREN_BENCH_CT300")
	if dir == "" {
		dir = "/tmp/bench-data/ct300"
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.dcm")); len(files) >= n {
		sort.Strings(files)
		out := make([][]byte, n)
		for i := range out {
			out[i] = readFile(b, files[i])
		}
		return out
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = syntheticCT(i+1, 512)
	}
	return out
}

// syntheticCT is one instance of the benchmarks' CT series.
func syntheticCT(num, size int) []byte {
	return dicomtest.CT("2.25.4242424242.1", "2.25.4242424242.1.1", num, size)
}

// benchInstances returns n instances with distinct SOP Instance UIDs: the
// 300 of benchCT first, then synthetic ones.
func benchInstances(b *testing.B, n int) [][]byte {
	base := benchCT(b, 300)
	out := make([][]byte, n)
	for i := range out {
		if i < len(base) {
			out[i] = base[i]
		} else {
			out[i] = syntheticCT(100000+i, 512)
		}
	}
	return out
}

// BenchmarkSTOW measures STOW-RS ingest of 512×512 CT instances (one
// instance per request, each acknowledged only once durable: fsync'd
// original, lazily written metadata, catalog record) on the embedded default (fs +
// in-memory catalog), with 1 and 4 concurrent clients. The request goes
// through the whole gin handler (multipart parsing, parse, validation,
// storage, response) but not a TCP socket. Reports instances/s and MB/s.
// Run: go test ./dicomweb -run XXX -bench STOW -benchtime 300x
func BenchmarkSTOW(b *testing.B) {
	for _, clients := range []int{1, 4} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			e := newEnvDelay(b, memoryBackends, 0, time.Second)
			insts := benchInstances(b, b.N)
			bodies := make([][]byte, len(insts))
			cts := make([]string, len(insts))
			var total int64
			for i, d := range insts {
				cts[i], bodies[i] = multipartBody(b, []part{dcm(d)})
				total += int64(len(d))
			}
			var next atomic.Int64
			var failed atomic.Int64
			b.ResetTimer()
			start := time.Now()
			done := make(chan struct{})
			for w := 0; w < clients; w++ {
				go func() {
					defer func() { done <- struct{}{} }()
					for {
						i := next.Add(1) - 1
						if i >= int64(len(bodies)) {
							return
						}
						req := httptest.NewRequest("POST", "/dicom-web/studies", bytes.NewReader(bodies[i]))
						req.Header.Set("Content-Type", cts[i])
						rec := httptest.NewRecorder()
						e.engine.ServeHTTP(rec, req)
						if rec.Code != 200 {
							failed.Add(1)
						}
					}
				}()
			}
			for w := 0; w < clients; w++ {
				<-done
			}
			el := time.Since(start)
			b.StopTimer()
			if failed.Load() > 0 {
				b.Fatalf("%d STOW requests failed", failed.Load())
			}
			b.ReportMetric(float64(b.N)/el.Seconds(), "instances/s")
			b.ReportMetric(float64(total)/el.Seconds()/1e6, "MB/s")
		})
	}
}

// BenchmarkSeriesMetadata measures GET /studies/{s}/series/{se}/metadata
// of a 300-instance CT series through the handler: "bundle" is the
// precomputed series bundle (one storage read), "assembled" the fallback
// that reads 300 per-instance metadata objects. Reports p50 latency.
// With HUREN_TEST_S3_* and HUREN_TEST_REDIS_ADDR set it runs on MinIO +
// Redis too.
// Run: go test ./dicomweb -run XXX -bench SeriesMetadata -benchtime 20x
func BenchmarkSeriesMetadata(b *testing.B) {
	insts := benchCT(b, 300)
	for _, be := range allBackends {
		for _, mode := range []string{"bundle", "assembled"} {
			b.Run(be.name+"/"+mode, func(b *testing.B) { benchSeriesMetadata(b, be, mode, insts) })
		}
	}
}

func benchSeriesMetadata(b *testing.B, be backends, mode string, insts [][]byte) {
	delay := 10 * time.Millisecond
	if mode == "assembled" {
		delay = time.Hour // never rebuilt during the run
	}
	e := newEnvDelay(b, be, 0, delay)
	ctx := context.Background()
	var study, series string
	for _, d := range insts {
		res, err := e.svc.Ingest(ctx, bytes.NewReader(d), int64(len(d)), ingestSource)
		if err != nil {
			b.Fatal(err)
		}
		study, series = res.StudyUID, res.SeriesUID
	}
	if mode == "bundle" {
		if err := e.svc.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	path := "/dicom-web/studies/" + study + "/series/" + series + "/metadata"
	lat := make([]time.Duration, 0, b.N)
	size := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		req := httptest.NewRequest("GET", path, nil)
		rec := httptest.NewRecorder()
		e.engine.ServeHTTP(rec, req)
		lat = append(lat, time.Since(t0))
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body.String())
		}
		size = rec.Body.Len()
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(size)/1e6, "MB/response")
}

// BenchmarkDurableWriteCeiling is the floor under BenchmarkSTOW on the same
// machine in the same run: the one durable write an acknowledged instance
// cannot do without (the 512×512 original, fsync'd with its directory
// entry), with no HTTP, parsing, metadata or indexing. STOW instances/s
// divided by this figure is Huren's fraction of the durable-write ceiling.
func BenchmarkDurableWriteCeiling(b *testing.B) {
	st, _ := memoryBackends.open(b)
	orig := syntheticCT(1, 512)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := st.PutIfAbsent(ctx, fmt.Sprintf("dicom/a/b/%d.dcm", i), bytes.NewReader(orig), storagePut(len(orig))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "instances/s")
}

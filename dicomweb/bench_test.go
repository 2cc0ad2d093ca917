package dicomweb_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/huren-health/huren/ingest"
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

// syntheticCT encodes a minimal but complete CT Image Storage Part 10 file
// (Explicit VR Little Endian) with size×size int16 pixels.
func syntheticCT(num, size int) []byte {
	var ds bytes.Buffer
	el := func(buf *bytes.Buffer, g, e uint16, vr string, val []byte) {
		if len(val)%2 == 1 {
			pad := byte(' ')
			if vr == "UI" || vr == "OB" {
				pad = 0
			}
			val = append(val, pad)
		}
		binary.Write(buf, binary.LittleEndian, g)
		binary.Write(buf, binary.LittleEndian, e)
		buf.WriteString(vr)
		switch vr {
		case "OB", "OW", "SQ", "UN", "UT":
			buf.Write([]byte{0, 0})
			binary.Write(buf, binary.LittleEndian, uint32(len(val)))
		default:
			binary.Write(buf, binary.LittleEndian, uint16(len(val)))
		}
		buf.Write(val)
	}
	us := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	const study, series = "2.25.4242424242.1", "2.25.4242424242.1.1"
	sop := fmt.Sprintf("2.25.4242424242.1.1.%d", num)
	const ctClass = "1.2.840.10008.5.1.4.1.1.2"
	el(&ds, 0x0008, 0x0005, "CS", []byte("ISO_IR 192"))
	el(&ds, 0x0008, 0x0016, "UI", []byte(ctClass))
	el(&ds, 0x0008, 0x0018, "UI", []byte(sop))
	el(&ds, 0x0008, 0x0020, "DA", []byte("20261123"))
	el(&ds, 0x0008, 0x0030, "TM", []byte("101010"))
	el(&ds, 0x0008, 0x0060, "CS", []byte("CT"))
	el(&ds, 0x0008, 0x1030, "LO", []byte("CT 胸部平扫"))
	el(&ds, 0x0010, 0x0010, "PN", []byte("Zhang^San=张^三"))
	el(&ds, 0x0010, 0x0020, "LO", []byte("BENCH001"))
	el(&ds, 0x0018, 0x0050, "DS", []byte("1.25"))
	el(&ds, 0x0020, 0x000D, "UI", []byte(study))
	el(&ds, 0x0020, 0x000E, "UI", []byte(series))
	el(&ds, 0x0020, 0x0011, "IS", []byte("1"))
	el(&ds, 0x0020, 0x0013, "IS", []byte(fmt.Sprint(num)))
	el(&ds, 0x0020, 0x0032, "DS", []byte(fmt.Sprintf("-250\\-250\\%d", -num)))
	el(&ds, 0x0020, 0x0037, "DS", []byte("1\\0\\0\\0\\1\\0"))
	el(&ds, 0x0028, 0x0002, "US", us(1))
	el(&ds, 0x0028, 0x0004, "CS", []byte("MONOCHROME2"))
	el(&ds, 0x0028, 0x0010, "US", us(uint16(size)))
	el(&ds, 0x0028, 0x0011, "US", us(uint16(size)))
	el(&ds, 0x0028, 0x0030, "DS", []byte("0.7\\0.7"))
	el(&ds, 0x0028, 0x0100, "US", us(16))
	el(&ds, 0x0028, 0x0101, "US", us(16))
	el(&ds, 0x0028, 0x0102, "US", us(15))
	el(&ds, 0x0028, 0x0103, "US", us(1))
	el(&ds, 0x0028, 0x1050, "DS", []byte("40"))
	el(&ds, 0x0028, 0x1051, "DS", []byte("400"))
	el(&ds, 0x0028, 0x1052, "DS", []byte("-1024"))
	el(&ds, 0x0028, 0x1053, "DS", []byte("1"))
	px := make([]byte, size*size*2)
	for i := 0; i < len(px); i += 2 {
		binary.LittleEndian.PutUint16(px[i:], uint16((i/2+num)%2048))
	}
	el(&ds, 0x7FE0, 0x0010, "OW", px)

	var meta bytes.Buffer
	el(&meta, 0x0002, 0x0001, "OB", []byte{0, 1})
	el(&meta, 0x0002, 0x0002, "UI", []byte(ctClass))
	el(&meta, 0x0002, 0x0003, "UI", []byte(sop))
	el(&meta, 0x0002, 0x0010, "UI", []byte("1.2.840.10008.1.2.1"))
	el(&meta, 0x0002, 0x0012, "UI", []byte("2.25.1"))
	var f bytes.Buffer
	f.Write(make([]byte, 128))
	f.WriteString("DICM")
	el(&f, 0x0002, 0x0000, "UL", binary.LittleEndian.AppendUint32(nil, uint32(meta.Len())))
	f.Write(meta.Bytes())
	f.Write(ds.Bytes())
	return f.Bytes()
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

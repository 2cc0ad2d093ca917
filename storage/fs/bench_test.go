package fs

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/huren-health/huren/storage"
)

// BenchmarkPut512K writes 512 KiB objects — one CT slice — under distinct
// keys, with fsync of file and directory as in production. MB/s is reported
// by b.SetBytes; ns/op is the per-object latency.
func BenchmarkPut512K(b *testing.B) {
	for _, variant := range []struct {
		name string
		opts func(data []byte) storage.PutOptions
	}{
		{"unknown-size", func([]byte) storage.PutOptions { return storage.PutOptions{Size: -1} }},
		{"known-size", func(d []byte) storage.PutOptions {
			return storage.PutOptions{Size: int64(len(d)), ContentType: "application/dicom"}
		}},
	} {
		b.Run(variant.name, func(b *testing.B) {
			s, err := New(Config{Root: b.TempDir()}, nil)
			if err != nil {
				b.Fatal(err)
			}
			data := bytes.Repeat([]byte{0x5a, 0xa5, 0x01, 0x80}, 128<<10)
			opts := variant.opts(data)
			ctx := b.Context()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// Spread over series directories the way ingest lays out a study.
				key := fmt.Sprintf("studies/1.2.3/series/%d/instances/%d.dcm", i%8, i)
				if _, err := s.Put(ctx, key, bytes.NewReader(data), opts); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkPutIfAbsent512K is the ingest path for a new instance.
func BenchmarkPutIfAbsent512K(b *testing.B) {
	s, err := New(Config{Root: b.TempDir()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte{0x5a, 0xa5, 0x01, 0x80}, 128<<10)
	ctx := b.Context()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		key := fmt.Sprintf("studies/1.2.3/series/%d/instances/%d.dcm", i%8, i)
		if _, err := s.PutIfAbsent(ctx, key, bytes.NewReader(data), storage.PutOptions{Size: int64(len(data))}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkGet512K reads one 512 KiB object back.
func BenchmarkGet512K(b *testing.B) {
	s, err := New(Config{Root: b.TempDir()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte{0x5a, 0xa5, 0x01, 0x80}, 128<<10)
	ctx := b.Context()
	if _, err := s.Put(ctx, "x.dcm", bytes.NewReader(data), storage.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rc, _, err := s.Get(ctx, "x.dcm")
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := rc.Read(buf); err != nil {
				break
			}
		}
		rc.Close()
	}
}

// BenchmarkPut512KParallel is many uploads at once (a study arriving over
// several connections): fsyncs overlap, so throughput scales past the
// single-stream figure. Run with -cpu to vary the writer count.
func BenchmarkPut512KParallel(b *testing.B) {
	s, err := New(Config{Root: b.TempDir()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte{0x5a, 0xa5, 0x01, 0x80}, 128<<10)
	ctx := b.Context()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.SetParallelism(4) // 4 writers per GOMAXPROCS
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			key := fmt.Sprintf("studies/1.2.3/series/%d/instances/%d.dcm", i%8, i)
			if _, err := s.Put(ctx, key, bytes.NewReader(data), storage.PutOptions{Size: int64(len(data))}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

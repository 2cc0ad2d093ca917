package minio

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/huren-health/huren/internal/testbackend"
	"github.com/huren-health/huren/storage"
)

func benchStore(b *testing.B) *Store {
	be := testbackend.MinIO(b)
	s, err := Open(b.Context(), Config{Endpoint: be.Endpoint, AccessKey: be.AccessKey, SecretKey: be.SecretKey,
		Bucket: testbackend.UniqueName("huren-bench-")}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { removeBucket(b, s) })
	return s
}

// BenchmarkPut512K: one CT slice per op, one writer.
func BenchmarkPut512K(b *testing.B) {
	s := benchStore(b)
	data := bytes.Repeat([]byte{0x5a, 0xa5, 0x01, 0x80}, 128<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		key := fmt.Sprintf("studies/1.2.3/series/%d/instances/%d.dcm", i%8, i)
		if _, err := s.Put(b.Context(), key, bytes.NewReader(data), storage.PutOptions{Size: int64(len(data))}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPut512KParallel: many writers, as during a study upload.
func BenchmarkPut512KParallel(b *testing.B) {
	s := benchStore(b)
	data := bytes.Repeat([]byte{0x5a, 0xa5, 0x01, 0x80}, 128<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.SetParallelism(4)
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			key := fmt.Sprintf("studies/1.2.3/series/%d/instances/%d.dcm", i%8, i)
			if _, err := s.Put(b.Context(), key, bytes.NewReader(data), storage.PutOptions{Size: int64(len(data))}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

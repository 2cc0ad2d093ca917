package audit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/huren-health/huren/audit"
)

// BenchmarkRecordDurable measures what a write waits for its audit record
// on the filesystem store (fsync per object), by segment size (each flush
// rewrites the open segment) and concurrency (group commit).
func BenchmarkRecordDurable(b *testing.B) {
	for _, seg := range []int{1 << 20, 256 << 10, 64 << 10} {
		for _, conc := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("seg=%dKiB/c=%d", seg>>10, conc), func(b *testing.B) {
				st := newStore(b)
				l, err := audit.New(st, audit.Config{Node: "bench", SegmentMaxBytes: seg, CheckpointInterval: -1}, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := l.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				e := audit.Event{User: "token:0123456789abcdef", Site: "town-a", Action: "POST /dicom-web/studies",
					Resource: "/dicom-web/studies", Patient: "P0001234", Outcome: audit.OK, Status: 200, ClientAddr: "10.1.2.3",
					RequestID: "0123456789abcdef01234567"}
				b.ResetTimer()
				var wg sync.WaitGroup
				for w := range conc {
					wg.Go(func() {
						for i := w; i < b.N; i += conc {
							if err := l.RecordDurable(context.Background(), e); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
			})
		}
	}
}

package ingest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/ingest"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/storagetest"
)

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func seriesFiles(t testing.TB) []string {
	t.Helper()
	fs, err := filepath.Glob("testdata/series/*.dcm")
	if err != nil || len(fs) == 0 {
		t.Fatalf("no series test files: %v", err)
	}
	sort.Strings(fs)
	return fs
}

type fixture struct {
	store *storagetest.Flaky
	cat   catalog.Catalog
	svc   *ingest.Service
	reg   *prometheus.Registry
	mu    sync.Mutex
	seen  []catalog.Record
}

func newFixture(t *testing.T, b backends, mod func(*ingest.Config)) *fixture {
	t.Helper()
	st, cat := b.open(t)
	f := &fixture{store: &storagetest.Flaky{Store: st}, cat: cat, reg: prometheus.NewRegistry()}
	cfg := ingest.Config{
		Store: f.store, Catalog: cat, Registerer: f.reg,
		BundleDelay: time.Hour, // tests flush explicitly
		OnStored: func(_ context.Context, rec catalog.Record) {
			f.mu.Lock()
			f.seen = append(f.seen, rec)
			f.mu.Unlock()
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	f.svc = svc
	return f
}

func (f *fixture) ingest(t *testing.T, b []byte, src ingest.Source) (ingest.Result, error) {
	t.Helper()
	return f.svc.Ingest(context.Background(), bytes.NewReader(b), int64(len(b)), src)
}

func (f *fixture) keys(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	if err := f.store.List(context.Background(), prefix, func(i storage.Info) error {
		out = append(out, i.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIngest(t *testing.T) { forEachBackend(t, testIngest) }

func testIngest(t *testing.T, b backends) {
	ctx := context.Background()
	t.Run("stores original, metadata, record; idempotent re-send", func(t *testing.T) {
		f := newFixture(t, b, nil)
		for _, p := range seriesFiles(t) {
			data := readFile(t, p)
			res, err := f.ingest(t, data, ingest.Source{Site: "township-1", Via: "stow"})
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if res.Duplicate || res.SHA256 != sum(data) || res.Size != int64(len(data)) {
				t.Fatalf("%s: result %+v", p, res)
			}
			rc, info, err := f.store.Get(ctx, ingest.ObjectKey(res.StudyUID, res.SeriesUID, res.SOPInstanceUID))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, data) || info.SHA256 != sum(data) {
				t.Fatalf("%s: stored bytes differ from the original", p)
			}
			m, err := ingest.ReadMeta(ctx, f.store, ingest.MetaKey(res.StudyUID, res.SeriesUID, res.SOPInstanceUID))
			if err != nil {
				t.Fatal(err)
			}
			if m.SHA256 != sum(data) || m.Site != "township-1" || m.TransferSyntax != "1.2.840.10008.1.2.1" || len(m.Frames) != 1 || m.ReceivedAt.IsZero() {
				t.Fatalf("%s: meta %+v", p, m)
			}
			if e := m.Dataset["7FE00010"]; e == nil || e.BulkDataURI == "" || len(e.Value) != 0 {
				t.Fatalf("%s: pixel data must be a bulk reference in metadata, got %+v", p, e)
			}
			rec, err := f.cat.Instance(ctx, res.SOPInstanceUID)
			if err != nil || rec.SHA256 != sum(data) || rec.Site != "township-1" {
				t.Fatalf("%s: catalog %+v %v", p, rec, err)
			}
			// Same bytes again: success, nothing written, no notification.
			res2, err := f.ingest(t, data, ingest.Source{Site: "township-1"})
			if err != nil || !res2.Duplicate {
				t.Fatalf("%s: re-send: %+v %v", p, res2, err)
			}
		}
		if n := len(f.seen); n != len(seriesFiles(t)) {
			t.Errorf("OnStored called %d times, want %d", n, len(seriesFiles(t)))
		}
		if v := metricValue(t, f.reg, "huren_ingest_duplicates_total"); v != float64(len(seriesFiles(t))) {
			t.Errorf("duplicates metric %v", v)
		}
	})

	t.Run("conflict keeps the original", func(t *testing.T) {
		f := newFixture(t, b, nil)
		data := readFile(t, seriesFiles(t)[0])
		res, err := f.ingest(t, data, ingest.Source{})
		if err != nil {
			t.Fatal(err)
		}
		other := bytes.Clone(data)
		other[len(other)-1] ^= 0xFF // last pixel byte: same UIDs, other content
		_, err = f.ingest(t, other, ingest.Source{})
		if !errors.Is(err, ingest.ErrConflict) || ingest.Reason(err) != ingest.ReasonProcessingFailure {
			t.Fatalf("want conflict, got %v (reason %#x)", err, ingest.Reason(err))
		}
		info, err := f.store.Stat(ctx, ingest.ObjectKey(res.StudyUID, res.SeriesUID, res.SOPInstanceUID))
		if err != nil || info.SHA256 != sum(data) {
			t.Fatalf("original not kept: %+v %v", info, err)
		}
		if v := metricValue(t, f.reg, "huren_ingest_conflicts_total"); v != 1 {
			t.Errorf("conflicts metric %v", v)
		}
		// The same race at storage level (the catalog did not know the
		// first upload yet, so the conflict is found by PutIfAbsent while
		// the loser's metadata write runs): the metadata object ends up
		// describing the stored original, not the refused bytes.
		if err := f.cat.Delete(ctx, res.SOPInstanceUID); err != nil {
			t.Fatal(err)
		}
		if _, err = f.ingest(t, other, ingest.Source{}); !errors.Is(err, ingest.ErrConflict) {
			t.Fatalf("want conflict at storage level, got %v", err)
		}
		m, err := ingest.ReadMeta(ctx, f.store, ingest.MetaKey(res.StudyUID, res.SeriesUID, res.SOPInstanceUID))
		if err != nil {
			t.Fatalf("metadata after a storage-level conflict: %v", err)
		}
		if m.SHA256 != sum(data) {
			t.Fatalf("metadata after a storage-level conflict describes sha256 %s, want the original's %s", m.SHA256, sum(data))
		}
	})

	t.Run("bad input: per-instance reasons, nothing stored", func(t *testing.T) {
		f := newFixture(t, b, func(c *ingest.Config) { c.MaxInstanceBytes = 200 << 10 })
		series := readFile(t, seriesFiles(t)[0])
		big := append(bytes.Clone(series), make([]byte, 200<<10)...)
		cases := []struct {
			name   string
			data   []byte
			size   int64 // -2: len(data)
			study  string
			reason uint16
			read   bool
		}{
			{"not DICOM", []byte("hello, this is not a DICOM file at all, just some text"), -2, "", ingest.ReasonCannotUnderstand, false},
			{"empty", nil, -2, "", ingest.ReasonCannotUnderstand, false},
			{"truncated file", series[:len(series)/2], -2, "", ingest.ReasonCannotUnderstand, false},
			{"stream shorter than declared", series[:len(series)/2], int64(len(series)), "", 0, true},
			{"over the instance limit", big, -1, "", ingest.ReasonOutOfResources, false},
			{"study differs from the URL", series, -2, "1.2.3.4", ingest.ReasonDataSetMismatch, false},
			{"malformed/MR_truncated.dcm", readFile(t, "testdata/malformed/MR_truncated.dcm"), -2, "", ingest.ReasonCannotUnderstand, false},
			{"malformed/rtplan_truncated.dcm", readFile(t, "testdata/malformed/rtplan_truncated.dcm"), -2, "", ingest.ReasonCannotUnderstand, false},
			{"malformed/emri_small_jpeg_2k_lossless_too_short.dcm", readFile(t, "testdata/malformed/emri_small_jpeg_2k_lossless_too_short.dcm"), -2, "", ingest.ReasonCannotUnderstand, false},
			{"malformed/MultiFrameUncompressed_zeroPixelTags.dcm (no UIDs)", readFile(t, "testdata/malformed/MultiFrameUncompressed_zeroPixelTags.dcm"), -2, "", ingest.ReasonDataSetMismatch, false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				size := tc.size
				if size == -2 {
					size = int64(len(tc.data))
				}
				_, err := f.svc.Ingest(ctx, bytes.NewReader(tc.data), size, ingest.Source{Study: tc.study})
				if err == nil {
					t.Fatal("accepted")
				}
				if tc.read {
					if !ingest.IsReadError(err) {
						t.Fatalf("want a read error, got %v", err)
					}
				} else if got := ingest.Reason(err); got != tc.reason {
					t.Fatalf("reason %#04x, want %#04x (%v)", got, tc.reason, err)
				}
			})
		}
		if k := f.keys(t, ""); len(k) != 0 {
			t.Fatalf("bad input left objects: %v", k)
		}
	})

	t.Run("structurally valid malformed files are stored", func(t *testing.T) {
		// badVR has an IS value "1A" and JPEG2000-embedded-sequence-delimiter a
		// corrupt codestream: both are well-formed DICOM whose defects only
		// matter when decoding; ingest keeps them byte for byte.
		f := newFixture(t, b, nil)
		for _, name := range []string{"badVR.dcm", "JPEG2000-embedded-sequence-delimiter.dcm"} {
			data := readFile(t, "testdata/malformed/"+name)
			if _, err := f.ingest(t, data, ingest.Source{}); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	})

	t.Run("large instance spools to disk", func(t *testing.T) {
		dir := t.TempDir()
		f := newFixture(t, b, func(c *ingest.Config) { c.SpoolMemoryBytes = 1024; c.TempDir = dir })
		// A spool file left by a crashed process two days ago is swept.
		stale := filepath.Join(dir, "huren-ingest-123.dcm")
		if err := os.WriteFile(stale, []byte("left over"), 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-48 * time.Hour)
		os.Chtimes(stale, old, old)
		data := readFile(t, seriesFiles(t)[1])
		res, err := f.svc.Ingest(ctx, bytes.NewReader(data), -1, ingest.Source{})
		if err != nil || res.SHA256 != sum(data) {
			t.Fatalf("%+v %v", res, err)
		}
		left, _ := os.ReadDir(dir)
		if len(left) != 0 {
			t.Errorf("spool files left behind: %d", len(left))
		}
	})

	// Regression: the hub's spool directory (DATA/tmp) does not exist on a
	// fresh data directory; the first instance over the memory budget (a
	// 15 MB DX in the benchmark) failed with "internal processing failure".
	t.Run("large instance spools into a directory not created yet", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "not", "yet")
		f := newFixture(t, b, func(c *ingest.Config) { c.SpoolMemoryBytes = 1024; c.TempDir = dir })
		data := readFile(t, seriesFiles(t)[2])
		res, err := f.svc.Ingest(ctx, bytes.NewReader(data), -1, ingest.Source{})
		if err != nil || res.SHA256 != sum(data) {
			t.Fatalf("%+v %v", res, err)
		}
	})

	t.Run("storage outage then recovery", func(t *testing.T) {
		f := newFixture(t, b, nil)
		data := readFile(t, seriesFiles(t)[0])
		f.store.SetDown(true)
		_, err := f.ingest(t, data, ingest.Source{})
		if !errors.Is(err, storage.ErrUnavailable) || ingest.Reason(err) != ingest.ReasonOutOfResources {
			t.Fatalf("want unavailable, got %v", err)
		}
		f.store.SetDown(false)
		if k := f.keys(t, ""); len(k) != 0 {
			t.Fatalf("outage left objects: %v", k)
		}
		if _, err := f.ingest(t, data, ingest.Source{}); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	})
}

func TestReindex(t *testing.T) { forEachBackend(t, testReindex) }

func testReindex(t *testing.T, b backends) {
	ctx := context.Background()
	f := newFixture(t, b, nil)
	files := seriesFiles(t)
	for _, p := range files[:2] {
		if _, err := f.ingest(t, readFile(t, p), ingest.Source{Site: "s1"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"testdata/charset/chrX1.dcm", "testdata/charset/chrX2.dcm", "testdata/CT_small.dcm"} {
		if _, err := f.ingest(t, readFile(t, p), ingest.Source{Site: "s2"}); err != nil {
			t.Fatal(err)
		}
	}
	queries := []catalog.Query{
		{Level: catalog.StudyLevel, IncludeAll: true},
		{Level: catalog.SeriesLevel, IncludeAll: true},
		{Level: catalog.InstanceLevel, IncludeAll: true},
	}
	var before [][]byte
	for _, q := range queries {
		before = append(before, search(t, f.cat, q))
	}

	// Crash after step 2: original stored, no metadata, not indexed.
	orphan := readFile(t, files[2])
	orphanRes := parseUIDs(t, orphan)
	if _, err := f.store.PutIfAbsent(ctx, ingest.ObjectKey(orphanRes.StudyUID, orphanRes.SeriesUID, orphanRes.SOPInstanceUID), bytes.NewReader(orphan), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// Metadata whose original is gone.
	if _, err := f.store.Put(ctx, ingest.MetaKey("1.2.3", "1.2.3.4", "1.2.3.4.5"), strings.NewReader(`{"version":1}`), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	st, err := ingest.Reindex(ctx, f.store, f.cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Indexed != 6 || st.Rederived != 1 || st.MissingOriginal != 1 || st.Unreadable != 0 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := f.cat.Instance(ctx, orphanRes.SOPInstanceUID); err != nil {
		t.Fatalf("orphan not indexed: %v", err)
	}
	// Without the orphan, every answer is as before.
	if err := f.cat.Delete(ctx, orphanRes.SOPInstanceUID); err != nil {
		t.Fatal(err)
	}
	for i, q := range queries {
		if d := cmp.Diff(string(before[i]), string(search(t, f.cat, q))); d != "" {
			t.Errorf("query %d differs after reindex:\n%s", i, d)
		}
	}
	// A second reindex finds no orphan any more.
	st, err = ingest.Reindex(ctx, f.store, f.cat, nil)
	if err != nil || st.Rederived != 0 || st.Indexed != 6 {
		t.Fatalf("second reindex %+v %v", st, err)
	}
}

// parseUIDs learns an instance's UIDs by ingesting it into a scratch service.
func parseUIDs(t *testing.T, data []byte) ingest.Result {
	t.Helper()
	g := newFixture(t, memoryBackends, nil)
	res, err := g.ingest(t, data, ingest.Source{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func search(t *testing.T, cat catalog.Catalog, q catalog.Query) []byte {
	t.Helper()
	res, err := cat.Search(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, ds := range res {
		b, err := jsonMarshal(ds)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// metricValue sums every series of a counter in reg.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	v := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				v += c.GetValue()
			}
		}
	}
	return v
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

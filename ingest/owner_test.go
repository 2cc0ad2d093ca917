package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/huren-health/huren/catalog"
	catredis "github.com/huren-health/huren/catalog/redis"
	"github.com/huren-health/huren/ingest"
	"github.com/huren-health/huren/internal/testbackend"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/fs"
)

// fsRedis adds filesystem storage with the Redis catalog to every
// backend pair: ownership must not depend on the catalog backend (a study
// indexed before owners were recorded is looked up in the catalog).
var fsRedis = backends{name: "fs+redis", open: func(t *testing.T) (storage.Store, catalog.Catalog) {
	addr := testbackend.RedisAddr(t)
	st, err := fs.New(fs.Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catredis.Open(t.Context(), catredis.Config{Addr: addr, Prefix: testbackend.UniqueName("huren-test-owner-")}, nil)
	if err != nil {
		t.Fatalf("redis: %v", err)
	}
	t.Cleanup(func() { cat.Reset(context.Background()); cat.Close(); st.Close() })
	return st, cat
}}

func forEachOwnerBackend(t *testing.T, fn func(*testing.T, backends)) {
	forEachBackend(t, fn)
	t.Run(fsRedis.name, func(t *testing.T) { fn(t, fsRedis) })
}

// UIDs and patient name of ingest/testdata/series (three instances of one
// series).
const (
	seriesStudy   = "1.2.840.113619.6.408.28831229784644470934771902094312156645"
	seriesSeries  = "1.2.840.113619.2.408.5282380.4562341.27283.1537222031.342"
	seriesPatient = "Test^Regression"
)

// rewrite replaces byte strings of equal length in a DICOM file, so the
// element lengths stay valid: a cheap way to give a test instance other
// UIDs or another patient name.
func rewrite(t testing.TB, data []byte, pairs ...string) []byte {
	t.Helper()
	out := bytes.Clone(data)
	for i := 0; i+1 < len(pairs); i += 2 {
		from, to := pairs[i], pairs[i+1]
		if len(from) != len(to) {
			t.Fatalf("rewrite %q → %q: lengths differ", from, to)
		}
		if !bytes.Contains(out, []byte(from)) {
			t.Fatalf("rewrite: %q not in the file", from)
		}
		out = bytes.ReplaceAll(out, []byte(from), []byte(to))
	}
	return out
}

// otherUID returns uid with its last digit changed: another UID of the same
// length.
func otherUID(uid string, n int) string {
	last := uid[len(uid)-1] - '0'
	return uid[:len(uid)-1] + string(rune('0'+(int(last)+n)%10))
}

// studySummary is the study-level QIDO answer for a study, as JSON.
func studySummary(t *testing.T, cat catalog.Catalog, study string) string {
	t.Helper()
	ds, err := cat.Search(context.Background(), catalog.Query{Level: catalog.StudyLevel, IncludeAll: true,
		Matches: []catalog.Match{{Tag: "StudyInstanceUID", Value: study}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(ds)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStudyOwnership (issue 14, finding 1): a study and a series belong to
// the site that created them. An instance of another site that carries
// their UID is refused whatever its SOP Instance UID and patient, nothing
// is written for it, the owner's study answers exactly as before, and the
// refusal names nothing of the owner.
func TestStudyOwnership(t *testing.T) { forEachOwnerBackend(t, testStudyOwnership) }

func testStudyOwnership(t *testing.T, b backends) {
	ctx := context.Background()
	f := newFixture(t, b, nil)
	files := seriesFiles(t)
	victim := ingest.Source{Site: "town-b", Via: "stow"}
	attacker := ingest.Source{Site: "town-a", Via: "stow"}
	first := readFile(t, files[0])
	if _, err := f.ingest(t, first, victim); err != nil {
		t.Fatal(err)
	}
	before := studySummary(t, f.cat, seriesStudy)
	keysBefore := strings.Join(f.keys(t, ""), "\n")

	evil := "EVIL^ATTACKER^X" // same length as seriesPatient
	newStudy, newSeries := otherUID(seriesStudy, 1), otherUID(seriesSeries, 1)
	for _, tc := range []struct {
		name, uid string
		data      []byte
	}{
		// The victim's study and series, another instance and patient.
		{"same study and series", seriesStudy, rewrite(t, readFile(t, files[1]), seriesPatient, evil)},
		// The victim's study in a new series.
		{"same study, new series", seriesStudy, rewrite(t, readFile(t, files[1]), seriesSeries, newSeries, seriesPatient, evil)},
		// The victim's series under a new study.
		{"new study, same series", seriesSeries, rewrite(t, readFile(t, files[2]), seriesStudy, newStudy)},
	} {
		_, err := f.ingest(t, tc.data, attacker)
		if !errors.Is(err, ingest.ErrForeignUID) {
			t.Fatalf("%s: %v, want ErrForeignUID", tc.name, err)
		}
		if ingest.Reason(err) != ingest.ReasonProcessingFailure {
			t.Errorf("%s: reason %#x", tc.name, ingest.Reason(err))
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.uid) || strings.Contains(msg, victim.Site) || strings.Contains(msg, seriesPatient) {
			t.Errorf("%s: refusal %q must name the sent UID and nothing of the owner", tc.name, msg)
		}
		// The victim's data is untouched: same study summary and no object
		// written except the attacker's own new study's owner record.
		if got := studySummary(t, f.cat, seriesStudy); got != before {
			t.Errorf("%s: the victim's study changed:\n%s\nwas\n%s", tc.name, got, before)
		}
		recs, err := f.cat.Instances(ctx, seriesStudy, "")
		if err != nil || len(recs) != 1 {
			t.Errorf("%s: victim study has %d instances (%v), want 1", tc.name, len(recs), err)
		}
	}
	for _, k := range f.keys(t, "") {
		if !strings.Contains(keysBefore, k) && k != "owner/study/"+newStudy {
			t.Errorf("object %s written by a refused upload", k)
		}
	}
	// The owner keeps adding to its study and series.
	if _, err := f.ingest(t, readFile(t, files[1]), victim); err != nil {
		t.Errorf("owner adding to its study: %v", err)
	}
	// The refusal outlives the catalog (a Redis wipe, a reindex) and this
	// replica's cache: a new service over the same storage still refuses.
	if _, err := ingest.Reindex(ctx, f.store, f.cat, nil); err != nil {
		t.Fatal(err)
	}
	svc2, err := ingest.New(ingest.Config{Store: f.store, Catalog: f.cat, BundleDelay: 3600e9})
	if err != nil {
		t.Fatal(err)
	}
	defer svc2.Close()
	data := rewrite(t, readFile(t, files[2]), seriesPatient, evil)
	if _, err := svc2.Ingest(ctx, bytes.NewReader(data), int64(len(data)), attacker); !errors.Is(err, ingest.ErrForeignUID) {
		t.Errorf("after reindex, in a new service: %v, want ErrForeignUID", err)
	}
	if site, ok, err := svc2.StudyOwner(ctx, seriesStudy); err != nil || !ok || site != victim.Site {
		t.Errorf("StudyOwner = %q %v %v, want %q", site, ok, err, victim.Site)
	}
	if _, ok, err := svc2.StudyOwner(ctx, "1.2.3.4.5.6.7"); err != nil || ok {
		t.Errorf("StudyOwner of an unknown study: %v %v", ok, err)
	}
}

// TestConflictNamesNothingOfAnotherSite (issue 14, finding 2): an instance
// reusing another site's SOP Instance UID is refused without naming the
// stored instance's study, series or digest.
func TestConflictNamesNothingOfAnotherSite(t *testing.T) {
	forEachOwnerBackend(t, func(t *testing.T, b backends) {
		f := newFixture(t, b, nil)
		data := readFile(t, seriesFiles(t)[0])
		if _, err := f.ingest(t, data, ingest.Source{Site: "town-b"}); err != nil {
			t.Fatal(err)
		}
		// Same SOP Instance UID, the attacker's own new study and series.
		newStudy, newSeries := otherUID(seriesStudy, 2), otherUID(seriesSeries, 2)
		copyOf := rewrite(t, data, seriesStudy, newStudy, seriesSeries, newSeries)
		_, err := f.ingest(t, copyOf, ingest.Source{Site: "town-a"})
		if !errors.Is(err, ingest.ErrConflict) {
			t.Fatalf("got %v, want ErrConflict", err)
		}
		for _, secret := range []string{seriesStudy, seriesSeries, sum(data), "town-b"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("conflict answer %q reveals %s", err, secret)
			}
		}
		if !strings.Contains(err.Error(), sum(copyOf)) {
			t.Errorf("conflict answer %q should name the sender's own digest", err)
		}
	})
}

// TestStudyOwnershipRace: sites racing to create the same study UID cannot
// both win — every stored instance of the study is one site's, every other
// upload is refused with ErrForeignUID.
func TestStudyOwnershipRace(t *testing.T) { forEachOwnerBackend(t, testStudyOwnershipRace) }

func testStudyOwnershipRace(t *testing.T, b backends) {
	ctx := context.Background()
	f := newFixture(t, b, nil)
	base := readFile(t, seriesFiles(t)[0])
	const sop = "1.2.840.113619.2.408.5282380.4562341.27155.1537232354.697"
	for round := range 5 {
		// A fresh study (and series) per round, each upload its own SOP.
		study, series := otherUID(seriesStudy, 3+round), otherUID(seriesSeries, 3+round)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			data := rewrite(t, base, seriesStudy, study, seriesSeries, series,
				sop, sop[:len(sop)-3]+fmt.Sprintf("%d%02d", round, i))
			site := []string{"town-a", "town-b"}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = f.svc.Ingest(ctx, bytes.NewReader(data), int64(len(data)), ingest.Source{Site: site})
			}()
		}
		close(start)
		wg.Wait()
		won := map[string]bool{}
		for i, err := range errs {
			switch {
			case err == nil:
				won[[]string{"town-a", "town-b"}[i%2]] = true
			case !errors.Is(err, ingest.ErrForeignUID):
				t.Fatalf("round %d upload %d: %v", round, i, err)
			}
		}
		recs, err := f.cat.Instances(ctx, study, "")
		if err != nil {
			t.Fatal(err)
		}
		sites := map[string]bool{}
		for _, r := range recs {
			sites[r.Site] = true
		}
		if len(won) != 1 || len(sites) != 1 || len(recs) != n/2 {
			t.Fatalf("round %d: winners %v, stored sites %v, %d instances; want one site with %d", round, won, sites, len(recs), n/2)
		}
	}
}

// TestLegacyStudyOwner: a study indexed before owners were recorded (no
// owner object) belongs to the site of its earliest instance.
func TestLegacyStudyOwner(t *testing.T) {
	forEachOwnerBackend(t, func(t *testing.T, b backends) {
		ctx := context.Background()
		f := newFixture(t, b, nil)
		files := seriesFiles(t)
		res, err := f.ingest(t, readFile(t, files[0]), ingest.Source{Site: "town-b"})
		if err != nil {
			t.Fatal(err)
		}
		// What an older version left: the study's instances, no owners.
		for _, k := range f.keys(t, "owner/") {
			if err := f.store.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		svc, err := ingest.New(ingest.Config{Store: f.store, Catalog: f.cat, BundleDelay: 3600e9})
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		data := readFile(t, files[1])
		if _, err := svc.Ingest(ctx, bytes.NewReader(data), int64(len(data)), ingest.Source{Site: "town-a"}); !errors.Is(err, ingest.ErrForeignUID) {
			t.Errorf("another site adding to a legacy study: %v, want ErrForeignUID", err)
		}
		if _, err := svc.Ingest(ctx, bytes.NewReader(data), int64(len(data)), ingest.Source{Site: "town-b"}); err != nil {
			t.Errorf("the legacy study's site adding to it: %v", err)
		}
		if site, ok, err := svc.StudyOwner(ctx, res.StudyUID); err != nil || !ok || site != "town-b" {
			t.Errorf("StudyOwner = %q %v %v", site, ok, err)
		}
		// The owner found in the catalog was recorded: it holds even when
		// the catalog forgets the study.
		if keys := f.keys(t, "owner/"); len(keys) != 2 {
			t.Errorf("owner objects after first use of a legacy study: %v, want the study's and the series'", keys)
		}
		if err := f.cat.Reset(ctx); err != nil {
			t.Fatal(err)
		}
		svc3, err := ingest.New(ingest.Config{Store: f.store, Catalog: f.cat, BundleDelay: 3600e9})
		if err != nil {
			t.Fatal(err)
		}
		defer svc3.Close()
		if _, err := svc3.Ingest(ctx, bytes.NewReader(data), int64(len(data)), ingest.Source{Site: "town-a"}); !errors.Is(err, ingest.ErrForeignUID) {
			t.Errorf("after a catalog reset: %v, want ErrForeignUID", err)
		}
	})
}

package redis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sort"
	"testing"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/catalog/catalogtest"
	"github.com/huren-health/huren/catalog/memory"
	"github.com/huren-health/huren/catalog/redis"
)

// equivQueries are compared between the backends after random changes.
var equivQueries = []struct {
	level catalog.Level
	query string
}{
	{catalog.StudyLevel, ""},
	{catalog.StudyLevel, "limit=3&offset=2"},
	{catalog.StudyLevel, "includefield=all"},
	{catalog.StudyLevel, "PatientID=P1"},
	{catalog.StudyLevel, "PatientID=P1\\P3&limit=2"},
	{catalog.StudyLevel, "PatientID=P*"},
	{catalog.StudyLevel, "PatientName=zhang*"},
	{catalog.StudyLevel, "PatientName=王*"},
	{catalog.StudyLevel, "PatientName=*i*"},
	{catalog.StudyLevel, "PatientName=zh*&limit=3"},
	{catalog.StudyLevel, "PatientName=w*"},
	{catalog.StudyLevel, "PatientName=wang x*"},
	{catalog.StudyLevel, "PatientName=xiao*&StudyDate=20200101-"},
	{catalog.StudyLevel, "PatientName=li*&ModalitiesInStudy=CT,MR&limit=2&offset=1"},
	{catalog.StudyLevel, "PatientName=nobody*"},
	{catalog.StudyLevel, "PatientName=li&fuzzymatching=true"},
	{catalog.StudyLevel, "StudyDate=20200101-20201231"},
	{catalog.StudyLevel, "StudyDate=-20200601&limit=2&offset=1"},
	{catalog.StudyLevel, "ModalitiesInStudy=CT"},
	{catalog.StudyLevel, "ModalitiesInStudy=MR,US&StudyDate=20190101-"},
	{catalog.StudyLevel, "ModalitiesInStudy=CT&limit=2&offset=1"},
	{catalog.StudyLevel, "ModalitiesInStudy=DX,MR&PatientName=li*"},
	{catalog.StudyLevel, "AccessionNumber=A2"},
	{catalog.StudyLevel, "StudyInstanceUID=1.3.1,1.3.4"},
	{catalog.SeriesLevel, ""},
	{catalog.SeriesLevel, "Modality=CT&limit=4&offset=1"},
	{catalog.SeriesLevel, "PatientName=li*"},
	{catalog.InstanceLevel, ""},
	{catalog.InstanceLevel, "InstanceNumber=1"},
	{catalog.InstanceLevel, "ModalitiesInStudy=DX&includefield=all&limit=5&offset=3"},
}

var equivSites = [][]string{nil, {"t1"}, {"t2", "t3"}}

// answers runs every query under every site scope and returns the JSON of
// the answers, one line per query.
func answers(t *testing.T, c catalog.Catalog) []string {
	t.Helper()
	var out []string
	for _, sites := range equivSites {
		for _, eq := range equivQueries {
			v, _ := url.ParseQuery(eq.query)
			q, err := catalog.ParseQuery(eq.level, v)
			if err != nil {
				t.Fatalf("%q: %v", eq.query, err)
			}
			q.Sites = sites
			res, err := c.Search(context.Background(), q)
			if err != nil {
				t.Fatalf("%v %q: %v", eq.level, eq.query, err)
			}
			b, _ := json.Marshal(res)
			out = append(out, fmt.Sprintf("%v %v %s → %s", sites, eq.level, eq.query, b))
		}
	}
	return out
}

func randomRecord(r *rand.Rand) catalog.Record {
	st := r.IntN(8)
	se := r.IntN(3)
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	kv := []any{
		"PatientName", pick("Zhang^San=张^三", "ZHANG^Wei", "Li^Si=李^四", "li^na", "Wang^Wu=王^五", "O'Brien",
			"Zhao^Li=赵^丽", "Wang Xiao^Ming", "^Li"),
		"PatientID", pick("P1", "P2", "P3", "Q1"),
		"AccessionNumber", pick("A1", "A2", ""),
		"StudyDate", pick("20200101", "20200601", "20201231", "20190315", "", "2020"),
		"StudyTime", pick("", "0800", "120000", "235959.5"),
		"Modality", pick("CT", "MR", "US", "DX"),
		"SeriesNumber", int64(r.IntN(3)),
	}
	if r.IntN(4) > 0 {
		kv = append(kv, "InstanceNumber", int64(r.IntN(4)))
	}
	return catalogtest.R(fmt.Sprintf("1.3.%d", st), fmt.Sprintf("1.3.%d.%d", st, se),
		fmt.Sprintf("1.3.%d.%d.%d", st, se, r.IntN(5)), pick("t1", "t2", "t3"), r.IntN(20), kv...)
}

// TestEquivalence applies the same random Puts and Deletes to the memory
// and the Redis backend and checks that every query answers identically;
// then rebuilds a fresh Redis catalog from the surviving records in another
// order (what `huren reindex` does after a FLUSHALL) and checks again.
func TestEquivalence(t *testing.T) {
	for _, tuning := range []struct {
		name                               string
		materialize, intersect, minC, maxC int
		// oldPuts is the share (in quarters) of Puts made without the
		// word index, as by an older version.
		oldPuts int
	}{
		{"default", 5000, 5000, 64, 4096, 0},
		{"walk", 0, 0, 1, 3, 0},
		// Single sets never gathered, intersections always.
		{"intersect", 0, 5000, 1, 3, 0},
		// Data partly indexed by an older version: the word and pair
		// indexes must not be used until every study is in them.
		{"oldLayout", 0, 5000, 1, 3, 2},
	} {
		t.Run(tuning.name, func(t *testing.T) {
			defer redis.SetTuning(tuning.materialize, tuning.minC, tuning.maxC)()
			defer redis.SetIntersectMax(tuning.intersect)()
			for seed := uint64(1); seed <= 3; seed++ {
				r := rand.New(rand.NewPCG(seed, 42))
				mem, red := memory.New(nil), newCatalog(t)
				live := map[string]catalog.Record{}
				ctx := context.Background()
				for step := 1; step <= 150; step++ {
					rec := randomRecord(r)
					if r.IntN(4) == 0 {
						for _, c := range []catalog.Catalog{mem, red} {
							if err := c.Delete(ctx, rec.InstanceUID); err != nil {
								t.Fatal(err)
							}
						}
						delete(live, rec.InstanceUID)
					} else {
						// Old Puts only in the first half: an older version
						// indexed the catalog, then this one took over (the
						// two writing side by side is not supported).
						restore := redis.SetIndexWords(r.IntN(4) >= tuning.oldPuts || step > 75)
						for _, c := range []catalog.Catalog{mem, red} {
							if err := c.Put(ctx, rec); err != nil {
								t.Fatal(err)
							}
						}
						restore()
						live[rec.InstanceUID] = rec
					}
					if step%50 == 0 {
						compare(t, fmt.Sprintf("seed %d step %d", seed, step), answers(t, mem), answers(t, red))
					}
				}
				if tuning.oldPuts > 0 {
					// Upgrade in place: Put every survivor again with the
					// current version, so every study is in the word and
					// pair indexes (added to the studies indexed before)
					// and searches use them.
					uids := make([]string, 0, len(live))
					for u := range live {
						uids = append(uids, u)
					}
					sort.Strings(uids)
					for _, u := range uids {
						if err := red.Put(ctx, live[u]); err != nil {
							t.Fatal(err)
						}
					}
					if !redis.IndexesComplete(ctx, t, red) {
						t.Fatalf("seed %d: word or pair index incomplete after re-putting every record", seed)
					}
					compare(t, fmt.Sprintf("seed %d upgraded", seed), answers(t, mem), answers(t, red))
				}
				// Rebuild from the survivors in a different order.
				re := newCatalog(t)
				uids := make([]string, 0, len(live))
				for u := range live {
					uids = append(uids, u)
				}
				sort.Strings(uids)
				r.Shuffle(len(uids), func(i, j int) { uids[i], uids[j] = uids[j], uids[i] })
				for _, u := range uids {
					if err := re.Put(ctx, live[u]); err != nil {
						t.Fatal(err)
					}
				}
				compare(t, fmt.Sprintf("seed %d rebuilt", seed), answers(t, mem), answers(t, re))
			}
		})
	}
}

func compare(t *testing.T, what string, want, got []string) {
	t.Helper()
	for i := range want {
		if want[i] != got[i] {
			t.Fatalf("%s: answers differ\nmemory: %s\nredis:  %s", what, want[i], got[i])
		}
	}
}

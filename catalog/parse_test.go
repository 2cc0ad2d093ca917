package catalog_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/catalog/catalogtest"
	"github.com/huren-health/huren/catalog/memory"
)

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		level catalog.Level
		raw   string
		want  catalog.Query
	}{
		{catalog.StudyLevel, "", catalog.Query{Level: catalog.StudyLevel}},
		{catalog.StudyLevel, "limit=101&offset=0&fuzzymatching=false&includefield=00081030,00080060,00080090,00100030",
			catalog.Query{Level: catalog.StudyLevel, Limit: 101, IncludeFields: []string{"00081030", "00080060", "00080090", "00100030"}}},
		{catalog.StudyLevel, "00100020=P1&StudyInstanceUID=1.2.3",
			catalog.Query{Level: catalog.StudyLevel, Matches: []catalog.Match{{Tag: "00100020", Value: "P1"}, {Tag: "0020000D", Value: "1.2.3"}}}},
		{catalog.StudyLevel, "0020000d=1.2.3", catalog.Query{Level: catalog.StudyLevel, Matches: []catalog.Match{{Tag: "0020000D", Value: "1.2.3"}}}},
		{catalog.StudyLevel, "ModalitiesInStudy=CT&ModalitiesInStudy=MR",
			catalog.Query{Level: catalog.StudyLevel, Matches: []catalog.Match{{Tag: "00080061", Value: `CT\MR`}}}},
		{catalog.StudyLevel, "includefield=PatientAge&includefield=all&Limit=5&OFFSET=10&FuzzyMatching=true&PatientName=",
			catalog.Query{Level: catalog.StudyLevel, IncludeFields: []string{"00101010", "all"}, IncludeAll: true, Limit: 5, Offset: 10,
				FuzzyMatching: true, Matches: []catalog.Match{{Tag: "00100010", Value: ""}}}},
		{catalog.InstanceLevel, "Rows=512&SOPClassUID=1.2.840.10008.5.1.4.1.1.2&includefield=00280030",
			catalog.Query{Level: catalog.InstanceLevel, IncludeFields: []string{"00280030"},
				Matches: []catalog.Match{{Tag: "00280010", Value: "512"}, {Tag: "00080016", Value: "1.2.840.10008.5.1.4.1.1.2"}}}},
		{catalog.InstanceLevel, "0040A730=x", catalog.Query{Level: catalog.InstanceLevel, Matches: []catalog.Match{{Tag: "0040A730", Value: "x"}}}},
		{catalog.StudyLevel, "includefield=0040A730", catalog.Query{Level: catalog.StudyLevel, IncludeFields: []string{"0040A730"}}},
	} {
		v, err := url.ParseQuery(tc.raw)
		if err != nil {
			t.Fatal(err)
		}
		got, err := catalog.ParseQuery(tc.level, v)
		if err != nil {
			t.Errorf("%q: %v", tc.raw, err)
			continue
		}
		sortMatches := cmpopts.SortSlices(func(a, b catalog.Match) bool { return a.Tag < b.Tag })
		if diff := cmp.Diff(tc.want, got, sortMatches, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.raw, diff)
		}
	}
	for _, raw := range []string{"limit=x", "limit=-1", "offset=1.5", "fuzzymatching=yes", "Nope=1", "0010002=x",
		"00400275.00401001=1", "includefield=Nope", "StudyDate=yesterday", "SOPInstanceUID=1.2"} {
		v, _ := url.ParseQuery(raw)
		if _, err := catalog.ParseQuery(catalog.StudyLevel, v); !errors.Is(err, catalog.ErrInvalidQuery) {
			t.Errorf("%q: err = %v, want ErrInvalidQuery", raw, err)
		}
	}
}

func TestLimits(t *testing.T) {
	c := memory.New(nil)
	ctx := context.Background()
	for _, r := range catalogtest.Fixture() {
		if err := c.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.Search(ctx, catalog.Query{Level: catalog.InstanceLevel, Limit: catalog.MaxLimit + 1})
	if err != nil || len(res) != 14 {
		t.Errorf("limit above MaxLimit: %d, %v", len(res), err)
	}
	p, err := catalog.Compile(catalog.Query{Level: catalog.StudyLevel})
	if err != nil || p.Limit != catalog.DefaultLimit {
		t.Errorf("default limit = %d, %v", p.Limit, err)
	}
	p, _ = catalog.Compile(catalog.Query{Level: catalog.StudyLevel, Limit: 1 << 30})
	if p.Limit != catalog.MaxLimit {
		t.Errorf("capped limit = %d", p.Limit)
	}
}

// FuzzParseQuery feeds arbitrary query strings (untrusted URL input) through
// ParseQuery and Search: no panic, and every error is ErrInvalidQuery.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "PatientName=zhang*", "StudyDate=20200101-20201231", "StudyTime=-1200.5",
		"includefield=all&limit=3&offset=1", "ModalitiesInStudy=CT,MR", "StudyInstanceUID=1.2,1.3",
		"PatientName=%E5%BC%A0*", "AcquisitionDateTime=2020-2021", "0008002A=20200101120000%26-0500-", "Rows=5e2",
		"PatientName=?%5E*&fuzzymatching=true"} {
		f.Add(int(catalog.StudyLevel), s)
		f.Add(int(catalog.InstanceLevel), s)
	}
	c := memory.New(nil)
	for _, r := range catalogtest.Fixture() {
		if err := c.Put(context.Background(), r); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, level int, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := catalog.ParseQuery(catalog.Level(level), v)
		if err != nil {
			if !errors.Is(err, catalog.ErrInvalidQuery) {
				t.Fatalf("ParseQuery(%q): %v", raw, err)
			}
			return
		}
		if _, err := c.Search(context.Background(), q); err != nil && !errors.Is(err, catalog.ErrInvalidQuery) {
			t.Fatalf("Search(%q): %v", raw, err)
		}
	})
}

// Package catalogtest is the contract suite every catalog.Catalog backend
// must pass: memory_test.go and redis_test.go each call Run in one line.
// The cases are the sentences of the catalog.Catalog and catalog.Query doc
// comments: QIDO matching of every kind, projection, aggregates, site
// scoping, paging and ordering, idempotency, deletion and reset.
package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomjson"
)

// Run runs the contract suite. newCatalog must return an empty catalog,
// isolated from every other call (e.g. a fresh key prefix); Run closes it.
func Run(t *testing.T, newCatalog func(t *testing.T) catalog.Catalog) {
	t.Helper()
	open := func(t *testing.T, recs ...catalog.Record) catalog.Catalog {
		t.Helper()
		c := newCatalog(t)
		t.Cleanup(func() { _ = c.Close() })
		for _, r := range recs {
			if err := c.Put(context.Background(), r); err != nil {
				t.Fatalf("Put %s: %v", r.InstanceUID, err)
			}
		}
		return c
	}
	t.Run("StudyMatching", func(t *testing.T) { testStudyMatching(t, open(t, Fixture()...)) })
	t.Run("InvalidQueries", func(t *testing.T) { testInvalid(t, open(t, Fixture()...)) })
	t.Run("SeriesLevel", func(t *testing.T) { testSeries(t, open(t, Fixture()...)) })
	t.Run("InstanceLevel", func(t *testing.T) { testInstanceLevel(t, open(t, Fixture()...)) })
	t.Run("Projection", func(t *testing.T) { testProjection(t, open(t, Fixture()...)) })
	t.Run("Paging", func(t *testing.T) { testPaging(t, open(t, Fixture()...)) })
	t.Run("Ordering", func(t *testing.T) { testOrdering(t, open(t)) })
	t.Run("Sites", func(t *testing.T) { testSites(t, open(t, Fixture()...)) })
	t.Run("InstanceLookup", func(t *testing.T) { testLookup(t, open(t, Fixture()...)) })
	t.Run("Aggregates", func(t *testing.T) { testAggregates(t, open(t, Fixture()...)) })
	t.Run("Representative", func(t *testing.T) { testRepresentative(t, open(t, Fixture()...)) })
	t.Run("IdempotentPut", func(t *testing.T) { testIdempotent(t, open(t, Fixture()...)) })
	t.Run("MoveInstance", func(t *testing.T) { testMove(t, open(t, Fixture()...)) })
	t.Run("InvalidRecord", func(t *testing.T) { testInvalidRecord(t, open(t)) })
	t.Run("Reset", func(t *testing.T) { testReset(t, open(t, Fixture()...)) })
	t.Run("ConcurrentPuts", func(t *testing.T) { testConcurrent(t, open(t)) })
	t.Run("Empty", func(t *testing.T) { testEmpty(t, open(t)) })
	t.Run("InstanceKeys", func(t *testing.T) { testInstanceKeys(t, open(t, Fixture()...)) })
}

// Study, series and instance UIDs of the fixture.
const (
	S1 = "1.2.826.1.1" // Zhang^San=张^三, P001, 20200315 101500, CT + SR, site t1
	S2 = "1.2.826.1.2" // Li^Si=李^四, P002, 20201231, MR, site t2
	S3 = "1.2.826.1.3" // ZHANG^Wei, P001, 20210101, CT + MR, site t1
	S4 = "1.2.826.1.4" // O'Brien^Pat, P004, no date, US, site t3
	S5 = "1.2.826.1.5" // zhangsan, P005, 20200101, DX, site t2 and one instance from t1
)

var base = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)

// R builds a record: attrs are keyword/value pairs (keywords the catalog
// knows, or 8-hex tags with a VR prefix "PN:00100010"); PN values are given
// in "A=I=P" form.
func R(study, series, sop, site string, minute int, kv ...any) catalog.Record {
	d := dicomjson.Dataset{}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		vr := ""
		if strings.Contains(k, ":") {
			vr, k, _ = strings.Cut(k, ":")
		}
		tag, ok := catalog.TagForKeyword(k)
		if !ok {
			tag = k
		}
		if vr == "" {
			vr = vrs[k]
		}
		switch v := kv[i+1].(type) {
		case []string:
			vals := make([]any, len(v))
			for j := range v {
				vals[j] = v[j]
			}
			d.Set(tag, vr, vals...)
		case string:
			if vr == "PN" {
				d.Set(tag, vr, dicomjson.ParsePersonName(v))
			} else {
				d.Set(tag, vr, v)
			}
		default:
			d.Set(tag, vr, v)
		}
	}
	return catalog.Record{StudyUID: study, SeriesUID: series, InstanceUID: sop, Site: site, Attrs: d,
		Size: 1000, SHA256: strings.Repeat("ab", 32), TransferSyntax: "1.2.840.10008.1.2.1",
		ObjectKey: "dicom/" + study + "/" + series + "/" + sop + ".dcm", MetaKey: "meta/" + study + "/" + series + "/" + sop + ".json",
		ReceivedAt: base.Add(time.Duration(minute) * time.Minute)}
}

var vrs = map[string]string{
	"PatientName": "PN", "ReferringPhysicianName": "PN", "PatientID": "LO", "PatientBirthDate": "DA",
	"PatientSex": "CS", "PatientAge": "AS", "StudyDate": "DA", "StudyTime": "TM", "AccessionNumber": "SH",
	"StudyDescription": "LO", "StudyID": "SH", "Modality": "CS", "SeriesNumber": "IS", "SeriesDescription": "LO",
	"InstanceNumber": "IS", "SOPClassUID": "UI", "Rows": "US", "Columns": "US", "BitsAllocated": "US",
	"NumberOfFrames": "IS", "InstitutionName": "LO", "SpecificCharacterSet": "CS", "ContentDate": "DA",
	"PerformedProcedureStepStartDate": "DA", "SeriesDate": "DA", "AcquisitionDateTime": "DT", "ImageType": "CS",
}

const (
	ct = "1.2.840.10008.5.1.4.1.1.2"
	mr = "1.2.840.10008.5.1.4.1.1.4"
	sr = "1.2.840.10008.5.1.4.1.1.88.11"
	us = "1.2.840.10008.5.1.4.1.1.6.1"
	dx = "1.2.840.10008.5.1.4.1.1.1.1"
)

func study1(kv ...any) []any {
	return append([]any{"SpecificCharacterSet", "ISO_IR 192", "PatientName", "Zhang^San=张^三", "PatientID", "P001",
		"PatientBirthDate", "19700101", "PatientSex", "M", "PatientAge", "056Y", "StudyDate", "20200315", "StudyTime", "101500",
		"AccessionNumber", "A1", "StudyDescription", "CT Chest", "StudyID", "1"}, kv...)
}

// Fixture is the suite's data set: five studies, nine series, fourteen
// instances (see the S1…S5 comments).
func Fixture() []catalog.Record {
	s2 := []any{"PatientName", "Li^Si=李^四", "PatientID", "P002", "StudyDate", "20201231", "StudyTime", "0800",
		"ReferringPhysicianName", "Wang^Wu", "AccessionNumber", "A2", "StudyDescription", "MR Head"}
	s3 := []any{"PatientName", "ZHANG^Wei", "PatientID", "P001", "StudyDate", "20210101", "StudyTime", "000000", "AccessionNumber", "A3"}
	s4 := []any{"PatientName", "O'Brien^Pat", "PatientID", "P004"}
	s5 := []any{"PatientName", "zhangsan", "PatientID", "P005", "StudyDate", "20200101"}
	img := func(n int, rows int) []any {
		return []any{"InstanceNumber", int64(n), "Rows", int64(rows), "Columns", int64(rows), "BitsAllocated", int64(16)}
	}
	cat := func(parts ...[]any) []any {
		var out []any
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	return []catalog.Record{
		R(S1, S1+".1", S1+".1.1", "t1", 1, cat(study1(), []any{"Modality", "CT", "SeriesNumber", int64(2), "SeriesDescription", "Axial", "InstitutionName", "Town A", "SOPClassUID", ct}, img(2, 512))...),
		R(S1, S1+".1", S1+".1.2", "t1", 2, cat(study1(), []any{"Modality", "CT", "SeriesNumber", int64(2), "SeriesDescription", "Axial", "InstitutionName", "Town A", "SOPClassUID", ct}, img(1, 512))...),
		R(S1, S1+".2", S1+".2.1", "t1", 3, cat(study1(), []any{"Modality", "SR", "SeriesNumber", int64(1), "SOPClassUID", sr, "InstanceNumber", int64(1)})...),
		R(S2, S2+".1", S2+".1.1", "t2", 4, cat(s2, []any{"Modality", "MR", "SeriesNumber", int64(5), "SOPClassUID", mr}, img(3, 256))...),
		R(S2, S2+".1", S2+".1.2", "t2", 5, cat(s2, []any{"Modality", "MR", "SeriesNumber", int64(5), "SOPClassUID", mr}, img(1, 256))...),
		R(S2, S2+".1", S2+".1.3", "t2", 6, cat(s2, []any{"Modality", "MR", "SeriesNumber", int64(5), "SOPClassUID", mr}, img(2, 256))...),
		R(S3, S3+".1", S3+".1.1", "t1", 7, cat(s3, []any{"Modality", "CT", "SeriesNumber", int64(1), "SOPClassUID", ct}, img(1, 512))...),
		R(S3, S3+".2", S3+".2.1", "t1", 8, cat(s3, []any{"Modality", "MR", "SeriesNumber", int64(2), "SOPClassUID", mr}, img(1, 256))...),
		R(S4, S4+".1", S4+".1.1", "t3", 9, cat(s4, []any{"Modality", "US", "SOPClassUID", us}, img(1, 480))...),
		R(S4, S4+".2", S4+".2.1", "t3", 10, cat(s4, []any{"Modality", "US", "SOPClassUID", us}, img(1, 480))...),
		R(S5, S5+".1", S5+".1.1", "t2", 11, cat(s5, []any{"Modality", "DX", "SeriesNumber", int64(1), "SOPClassUID", dx}, img(1, 2048))...),
		R(S5, S5+".1", S5+".1.2", "t1", 12, cat(s5, []any{"Modality", "DX", "SeriesNumber", int64(1), "SOPClassUID", dx}, img(2, 2048))...),
		R(S5, S5+".2", S5+".2.1", "t2", 13, cat(s5, []any{"Modality", "DX", "SeriesNumber", int64(2), "SOPClassUID", dx}, img(1, 2048))...),
		R(S5, S5+".3", S5+".3.1", "t2", 14, cat(s5, []any{"Modality", "DX", "SOPClassUID", dx}, img(1, 2048))...),
	}
}

var ctx = context.Background()

// search parses a QIDO query string at a level and runs it.
func search(t *testing.T, c catalog.Catalog, level catalog.Level, study, series, query string) ([]dicomjson.Dataset, error) {
	t.Helper()
	v, err := url.ParseQuery(query)
	if err != nil {
		t.Fatalf("bad test query %q: %v", query, err)
	}
	q, err := catalog.ParseQuery(level, v)
	if err != nil {
		return nil, err
	}
	q.StudyUID, q.SeriesUID = study, series
	return c.Search(ctx, q)
}

func mustSearch(t *testing.T, c catalog.Catalog, level catalog.Level, study, series, query string) []dicomjson.Dataset {
	t.Helper()
	res, err := search(t, c, level, study, series, query)
	if err != nil {
		t.Fatalf("Search(%v, %q): %v", level, query, err)
	}
	return res
}

func uids(res []dicomjson.Dataset, tag string) []string {
	out := []string{}
	for _, d := range res {
		out = append(out, d.String(tag))
	}
	return out
}

func testStudyMatching(t *testing.T, c catalog.Catalog) {
	all := []string{S3, S2, S1, S5, S4}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", all},
		{"PatientID=", all}, // universal
		{"PatientName=*", all},
		{"PatientID=P001", []string{S3, S1}},
		{"00100020=P001", []string{S3, S1}},
		{"PatientID=P00?", []string{S3, S2, S1, S5, S4}},
		{"PatientID=P00%3F&PatientSex=M", []string{S1}},
		{"PatientID=p001", []string{}}, // LO is case-sensitive
		{"PatientID=P001\\P004", []string{S3, S1, S4}},
		{"PatientName=zhang*", []string{S3, S1, S5}},
		{"PatientName=ZHANG^SAN", []string{S1}},
		{"PatientName=zhang^san", []string{S1}},
		{"PatientName=san", []string{S1}},
		{"PatientName=张*", []string{S1}},
		{"PatientName=张^三", []string{S1}},
		{"PatientName=?^三", []string{S1}},
		{"PatientName=李^四", []string{S2}},
		{"PatientName=李四", []string{}},
		{"PatientName=*an*", []string{S3, S1, S5}},
		{"PatientName=zhang", []string{S3, S1}},
		{"PatientName=zha&fuzzymatching=true", []string{S3, S1, S5}},
		{"PatientName=zha", []string{}},
		{"PatientName=o'brien*", []string{S4}},
		{"PatientName=Zhang^San=张^三", []string{S1}},
		{"ReferringPhysicianName=wang*", []string{S2}},
		{"StudyDescription=CT*", []string{S1}},
		{"StudyDescription=ct*", []string{}},
		{"StudyDescription=?R Head", []string{S2}},
		{"StudyDate=20200315", []string{S1}},
		{"StudyDate=20200101-20201231", []string{S2, S1, S5}},
		{"StudyDate=-20200315", []string{S1, S5}},
		{"StudyDate=20201231-", []string{S3, S2}},
		{"StudyDate=20200102-20200314", []string{}},
		{"StudyDate=20200101-20201231&StudyDate=-20200315", []string{S1, S5}}, // repeated DA: joined list is invalid? see InvalidQueries
		{"StudyTime=1000-1100", []string{S1}},
		{"StudyTime=08", []string{S2}},
		{"StudyTime=-0800", []string{S3, S2}},
		{"StudyInstanceUID=" + S1 + "," + S4, []string{S1, S4}},
		{"StudyInstanceUID=" + S1 + "\\" + S2, []string{S2, S1}},
		{"StudyInstanceUID=1.2.999", []string{}},
		{"ModalitiesInStudy=MR", []string{S3, S2}},
		{"ModalitiesInStudy=CT,US", []string{S3, S1, S4}},
		{"ModalitiesInStudy=CT&ModalitiesInStudy=US", []string{S3, S1, S4}},
		{"ModalitiesInStudy=C?", []string{S3, S1}},
		{"Modality=SR", []string{S1}},
		{"AccessionNumber=A1", []string{S1}},
		{"AccessionNumber=A1\\A3", []string{S3, S1}},
		{"PatientID=P001&ModalitiesInStudy=MR", []string{S3}},
		{"PatientName=zhang*&StudyDate=20200101-20201231", []string{S1, S5}},
		{"PatientBirthDate=19700101", []string{S1}},
		{"NumberOfStudyRelatedInstances=4", []string{S5}},
		{"InstanceAvailability=ONLINE", all},
	} {
		if strings.Contains(tc.query, "StudyDate=20200101-20201231&StudyDate") {
			continue // covered in testInvalid: repeated range keys are a list, which DA does not allow
		}
		res, err := search(t, c, catalog.StudyLevel, "", "", tc.query)
		if err != nil {
			t.Errorf("%q: %v", tc.query, err)
			continue
		}
		if diff := cmp.Diff(tc.want, uids(res, catalog.TagStudyInstanceUID)); diff != "" {
			t.Errorf("%q: studies (-want +got):\n%s", tc.query, diff)
		}
	}
}

func testInvalid(t *testing.T, c catalog.Catalog) {
	for _, tc := range []struct {
		level catalog.Level
		query string
	}{
		{catalog.StudyLevel, "StudyDate=2020"},
		{catalog.StudyLevel, "StudyDate=20201301"},
		{catalog.StudyLevel, "StudyDate=20200230"},
		{catalog.StudyLevel, "StudyDate=2020*"},
		{catalog.StudyLevel, "StudyDate=20201231-20200101"},
		{catalog.StudyLevel, "StudyDate=20200101-20201231&StudyDate=-20200315"},
		{catalog.StudyLevel, "StudyTime=2500"},
		{catalog.StudyLevel, "StudyTime=12345"},
		{catalog.StudyLevel, "StudyInstanceUID=1.2.*"},
		{catalog.StudyLevel, "StudyInstanceUID=1.2 3"},
		{catalog.StudyLevel, "NumberOfStudyRelatedSeries=two"},
		{catalog.StudyLevel, "limit=-1"},
		{catalog.StudyLevel, "limit=ten"},
		{catalog.StudyLevel, "offset=-5"},
		{catalog.StudyLevel, "fuzzymatching=maybe"},
		{catalog.StudyLevel, "Foo=bar"},
		{catalog.StudyLevel, "0040A730=x"}, // an instance-only (unknown) tag at study level
		{catalog.StudyLevel, "00400275.00401001=x"},
		{catalog.StudyLevel, "SeriesDescription=Axial"},
		{catalog.StudyLevel, "includefield=NoSuchKeyword"},
		{catalog.SeriesLevel, "SOPClassUID=" + ct},
		{catalog.InstanceLevel, "RequestAttributesSequence=x"},
		{catalog.InstanceLevel, "Rows=big"},
	} {
		_, err := search(t, c, tc.level, "", "", tc.query)
		if !errors.Is(err, catalog.ErrInvalidQuery) {
			t.Errorf("%v %q: err = %v, want ErrInvalidQuery", tc.level, tc.query, err)
		}
	}
	// Scopes and levels that cannot go together.
	for _, q := range []catalog.Query{
		{Level: catalog.StudyLevel, StudyUID: S1},
		{Level: catalog.SeriesLevel, StudyUID: S1, SeriesUID: S1 + ".1"},
		{Level: catalog.InstanceLevel, SeriesUID: S1 + ".1"},
		{Level: catalog.Level(9)},
		{Level: catalog.InstanceLevel, StudyUID: "not a uid"},
	} {
		if _, err := c.Search(ctx, q); !errors.Is(err, catalog.ErrInvalidQuery) {
			t.Errorf("Search(%+v): err = %v, want ErrInvalidQuery", q, err)
		}
	}
}

func testSeries(t *testing.T, c catalog.Catalog) {
	res := mustSearch(t, c, catalog.SeriesLevel, S1, "", "")
	if diff := cmp.Diff([]string{S1 + ".2", S1 + ".1"}, uids(res, catalog.TagSeriesInstanceUID)); diff != "" {
		t.Errorf("series of S1 ordered by SeriesNumber (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1", "2"}, uids(res, catalog.TagNumberOfSeriesRelatedInstances)); diff != "" {
		t.Errorf("NumberOfSeriesRelatedInstances (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"SR", "CT"}, uids(res, catalog.TagModality)); diff != "" {
		t.Errorf("Modality (-want +got):\n%s", diff)
	}
	if res[0][catalog.TagPatientName] != nil {
		t.Errorf("study-scoped series result carries PatientName; study attributes are fixed by the scope")
	}
	// Unscoped: all series, study order then series order, with study attributes.
	res = mustSearch(t, c, catalog.SeriesLevel, "", "", "")
	want := []string{S3 + ".1", S3 + ".2", S2 + ".1", S1 + ".2", S1 + ".1", S5 + ".1", S5 + ".2", S5 + ".3", S4 + ".1", S4 + ".2"}
	if diff := cmp.Diff(want, uids(res, catalog.TagSeriesInstanceUID)); diff != "" {
		t.Errorf("all series (-want +got):\n%s", diff)
	}
	for _, d := range res {
		if d.String(catalog.TagPatientID) == "" || d[catalog.TagNumberOfStudyRelatedInstances] == nil {
			t.Errorf("/series result %s lacks study attributes: %v", d.String(catalog.TagSeriesInstanceUID), keysOf(d))
		}
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"Modality=MR", []string{S3 + ".2", S2 + ".1"}},
		{"Modality=MR&PatientID=P001", []string{S3 + ".2"}},
		{"SeriesNumber=2", []string{S3 + ".2", S1 + ".1", S5 + ".2"}},
		{"SeriesDescription=ax*", []string{}},
		{"SeriesDescription=Ax*", []string{S1 + ".1"}},
		{"SeriesInstanceUID=" + S5 + ".3," + S2 + ".1", []string{S2 + ".1", S5 + ".3"}},
		{"InstitutionName=Town*", []string{S1 + ".1"}},
		{"PatientName=zhangsan&limit=2&offset=1", []string{S5 + ".2", S5 + ".3"}},
	} {
		res := mustSearch(t, c, catalog.SeriesLevel, "", "", tc.query)
		if diff := cmp.Diff(tc.want, uids(res, catalog.TagSeriesInstanceUID)); diff != "" {
			t.Errorf("/series?%s (-want +got):\n%s", tc.query, diff)
		}
	}
}

func testInstanceLevel(t *testing.T, c catalog.Catalog) {
	res := mustSearch(t, c, catalog.InstanceLevel, S2, S2+".1", "")
	if diff := cmp.Diff([]string{S2 + ".1.2", S2 + ".1.3", S2 + ".1.1"}, uids(res, catalog.TagSOPInstanceUID)); diff != "" {
		t.Errorf("instances by InstanceNumber (-want +got):\n%s", diff)
	}
	if res[0][catalog.TagModality] != nil || res[0][catalog.TagPatientName] != nil {
		t.Errorf("series-scoped instance result carries series/study attributes: %v", keysOf(res[0]))
	}
	// Study-scoped: series attributes come along, not study ones.
	res = mustSearch(t, c, catalog.InstanceLevel, S1, "", "")
	if diff := cmp.Diff([]string{S1 + ".2.1", S1 + ".1.2", S1 + ".1.1"}, uids(res, catalog.TagSOPInstanceUID)); diff != "" {
		t.Errorf("instances of S1 (-want +got):\n%s", diff)
	}
	if res[0].String(catalog.TagModality) != "SR" || res[0][catalog.TagPatientID] != nil {
		t.Errorf("study-scoped instance result: %v", keysOf(res[0]))
	}
	// Unscoped /instances: study and series attributes too.
	res = mustSearch(t, c, catalog.InstanceLevel, "", "", "PatientID=P002&InstanceNumber=1")
	if diff := cmp.Diff([]string{S2 + ".1.2"}, uids(res, catalog.TagSOPInstanceUID)); diff != "" {
		t.Fatalf("/instances?PatientID=P002&InstanceNumber=1 (-want +got):\n%s", diff)
	}
	for _, tag := range []string{catalog.TagPatientName, catalog.TagStudyDate, catalog.TagModality, catalog.TagSeriesInstanceUID,
		catalog.TagNumberOfStudyRelatedInstances, catalog.TagNumberOfSeriesRelatedInstances, catalog.TagRows, catalog.TagSOPClassUID,
		catalog.TagInstanceAvailability} {
		if res[0][tag] == nil {
			t.Errorf("/instances result lacks %s: %v", tag, keysOf(res[0]))
		}
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"SOPClassUID=" + sr, []string{S1 + ".2.1"}},
		{"Rows=2048&InstanceNumber=2", []string{S5 + ".1.2"}},
		{"Rows=480", []string{S4 + ".1.1", S4 + ".2.1"}},
		{"Modality=CT&Rows=512&PatientName=zhang^san", []string{S1 + ".1.2", S1 + ".1.1"}},
		{"SOPInstanceUID=" + S3 + ".2.1", []string{S3 + ".2.1"}},
		{"ModalitiesInStudy=MR&Rows=256&limit=2", []string{S3 + ".2.1", S2 + ".1.2"}},
	} {
		res := mustSearch(t, c, catalog.InstanceLevel, "", "", tc.query)
		if diff := cmp.Diff(tc.want, uids(res, catalog.TagSOPInstanceUID)); diff != "" {
			t.Errorf("/instances?%s (-want +got):\n%s", tc.query, diff)
		}
	}
}

func keysOf(d dicomjson.Dataset) []string {
	var out []string
	for k := range d {
		out = append(out, k)
	}
	return out
}

func testProjection(t *testing.T, c catalog.Catalog) {
	get := func(query string) dicomjson.Dataset {
		t.Helper()
		res := mustSearch(t, c, catalog.StudyLevel, "", "", "StudyInstanceUID="+S1+"&"+query)
		if len(res) != 1 {
			t.Fatalf("%q: %d results", query, len(res))
		}
		return res[0]
	}
	d := get("")
	for _, tag := range []string{catalog.TagSpecificCharacterSet, catalog.TagStudyDate, catalog.TagStudyTime,
		catalog.TagAccessionNumber, catalog.TagInstanceAvailability, catalog.TagModalitiesInStudy,
		catalog.TagPatientName, catalog.TagPatientID, catalog.TagPatientBirthDate, catalog.TagPatientSex,
		catalog.TagStudyInstanceUID, catalog.TagStudyID, catalog.TagNumberOfStudyRelatedSeries,
		catalog.TagNumberOfStudyRelatedInstances, catalog.TagStudyDescription} {
		if d[tag] == nil {
			t.Errorf("study result lacks required %s (%s)", tag, catalog.KeywordForTag(tag))
		}
	}
	for _, tag := range []string{"00101010", catalog.TagModality, catalog.TagSOPInstanceUID, catalog.TagRows, "00080080"} {
		if d[tag] != nil {
			t.Errorf("study result has %s (%s) unasked", tag, catalog.KeywordForTag(tag))
		}
	}
	pn := d[catalog.TagPatientName]
	if pn.VR != "PN" || d.String(catalog.TagPatientName) != "Zhang^San=张^三" {
		t.Errorf("PatientName = %s %q, want PN Zhang^San=张^三", pn.VR, d.String(catalog.TagPatientName))
	}
	if got := d.Strings(catalog.TagModalitiesInStudy); !cmp.Equal(got, []string{"CT", "SR"}) {
		t.Errorf("ModalitiesInStudy = %v", got)
	}
	if d.String(catalog.TagInstanceAvailability) != "ONLINE" {
		t.Errorf("InstanceAvailability = %q", d.String(catalog.TagInstanceAvailability))
	}
	if d := get("includefield=00101010"); d.String("00101010") != "056Y" {
		t.Errorf("includefield=00101010: PatientAge = %q", d.String("00101010"))
	}
	if d := get("includefield=PatientAge,Rows&includefield=00081030"); d.String("00101010") != "056Y" || d[catalog.TagRows] != nil {
		t.Errorf("includefield list: %v", keysOf(d))
	}
	d = get("includefield=all")
	if d.String("00101010") != "056Y" || d[catalog.TagSOPInstanceUID] != nil || d[catalog.TagModality] != nil {
		t.Errorf("includefield=all at study level: %v", keysOf(d))
	}
	// Results belong to the caller.
	d = get("")
	d[catalog.TagPatientID].Value[0] = "MUTATED"
	delete(d, catalog.TagStudyDate)
	if d := get(""); d.String(catalog.TagPatientID) != "P001" || d[catalog.TagStudyDate] == nil {
		t.Errorf("mutating a result changed the catalog: %v", d.String(catalog.TagPatientID))
	}
	// Series level includefield and all.
	res := mustSearch(t, c, catalog.SeriesLevel, S1, "", "SeriesNumber=2&includefield=InstitutionName")
	if len(res) != 1 || res[0].String("00080080") != "Town A" {
		t.Errorf("series includefield InstitutionName: %v", res)
	}
	res = mustSearch(t, c, catalog.InstanceLevel, S1, S1+".2", "includefield=all")
	if len(res) != 1 || res[0].String(catalog.TagPatientName) == "" || res[0].String(catalog.TagModality) != "SR" ||
		res[0].String(catalog.TagNumberOfStudyRelatedSeries) != "2" {
		t.Errorf("instance includefield=all: %v", res)
	}
}

func testPaging(t *testing.T, c catalog.Catalog) {
	all := uids(mustSearch(t, c, catalog.StudyLevel, "", "", ""), catalog.TagStudyInstanceUID)
	for limit := 1; limit <= 3; limit++ {
		var got []string
		for off := 0; off < 10; off += limit {
			page := mustSearch(t, c, catalog.StudyLevel, "", "", fmt.Sprintf("limit=%d&offset=%d", limit, off))
			got = append(got, uids(page, catalog.TagStudyInstanceUID)...)
		}
		if diff := cmp.Diff(all, got); diff != "" {
			t.Errorf("pages of %d (-all +pages):\n%s", limit, diff)
		}
	}
	if res := mustSearch(t, c, catalog.StudyLevel, "", "", "offset=5"); len(res) != 0 {
		t.Errorf("offset past the end: %d results", len(res))
	}
	insts := uids(mustSearch(t, c, catalog.InstanceLevel, "", "", ""), catalog.TagSOPInstanceUID)
	if len(insts) != 14 {
		t.Fatalf("/instances: %d results, want 14", len(insts))
	}
	var got []string
	for off := 0; off < 14; off += 4 {
		got = append(got, uids(mustSearch(t, c, catalog.InstanceLevel, "", "", fmt.Sprintf("limit=4&offset=%d", off)), catalog.TagSOPInstanceUID)...)
	}
	if diff := cmp.Diff(insts, got); diff != "" {
		t.Errorf("instance pages (-all +pages):\n%s", diff)
	}
}

func testSites(t *testing.T, c catalog.Catalog) {
	q := func(level catalog.Level, sites []string, query string) []dicomjson.Dataset {
		t.Helper()
		v, _ := url.ParseQuery(query)
		qq, err := catalog.ParseQuery(level, v)
		if err != nil {
			t.Fatal(err)
		}
		qq.Sites = sites
		res, err := c.Search(ctx, qq)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, tc := range []struct {
		sites []string
		query string
		want  []string
	}{
		{[]string{"t1"}, "", []string{S3, S1, S5}},
		{[]string{"t1"}, "limit=1&offset=1", []string{S1}},
		{[]string{"t1"}, "limit=2&offset=2", []string{S5}},
		{[]string{"t2", "t3"}, "", []string{S2, S5, S4}},
		{[]string{"t3"}, "PatientID=P001", []string{}},
		{[]string{}, "", []string{}},
		{[]string{"nowhere"}, "", []string{}},
		{nil, "limit=1", []string{S3}},
	} {
		if diff := cmp.Diff(tc.want, uids(q(catalog.StudyLevel, tc.sites, tc.query), catalog.TagStudyInstanceUID)); diff != "" {
			t.Errorf("sites %v %q (-want +got):\n%s", tc.sites, tc.query, diff)
		}
	}
	// Series and instances are scoped by their own senders: S5 has one
	// instance from t1.
	if diff := cmp.Diff([]string{S3 + ".1", S3 + ".2", S1 + ".2", S1 + ".1", S5 + ".1"},
		uids(q(catalog.SeriesLevel, []string{"t1"}, ""), catalog.TagSeriesInstanceUID)); diff != "" {
		t.Errorf("series visible to t1 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{S5 + ".1.2"},
		uids(q(catalog.InstanceLevel, []string{"t1"}, "PatientID=P005"), catalog.TagSOPInstanceUID)); diff != "" {
		t.Errorf("instances of S5 visible to t1 (-want +got):\n%s", diff)
	}
}

func testLookup(t *testing.T, c catalog.Catalog) {
	want := Fixture()[3]
	got, err := c.Instance(ctx, want.InstanceUID)
	if err != nil {
		t.Fatal(err)
	}
	if got.StudyUID != want.StudyUID || got.SeriesUID != want.SeriesUID || got.Site != want.Site || got.Size != want.Size ||
		got.SHA256 != want.SHA256 || got.TransferSyntax != want.TransferSyntax || got.ObjectKey != want.ObjectKey ||
		got.MetaKey != want.MetaKey || !got.ReceivedAt.Equal(want.ReceivedAt) {
		t.Errorf("Instance = %+v, want %+v", got, want)
	}
	if got.Attrs.String(catalog.TagPatientName) != "Li^Si=李^四" || got.Attrs.String(catalog.TagRows) != "256" ||
		got.Attrs.String(catalog.TagSOPInstanceUID) != want.InstanceUID {
		t.Errorf("Instance attrs: %v", got.Attrs)
	}
	if _, err := c.Instance(ctx, "1.2.3.404"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("Instance(missing): %v, want ErrNotFound", err)
	}
	recs, err := c.Instances(ctx, S1, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{S1 + ".2.1", S1 + ".1.2", S1 + ".1.1"}, recUIDs(recs)); diff != "" {
		t.Errorf("Instances(S1) (-want +got):\n%s", diff)
	}
	recs, err = c.Instances(ctx, S4, S4+".2")
	if err != nil || len(recs) != 1 || recs[0].InstanceUID != S4+".2.1" {
		t.Errorf("Instances(S4, series 2) = %v, %v", recUIDs(recs), err)
	}
	// Series without SeriesNumber sort by UID.
	recs, _ = c.Instances(ctx, S5, "")
	if diff := cmp.Diff([]string{S5 + ".1.1", S5 + ".1.2", S5 + ".2.1", S5 + ".3.1"}, recUIDs(recs)); diff != "" {
		t.Errorf("Instances(S5) (-want +got):\n%s", diff)
	}
	for _, args := range [][2]string{{"1.2.404", ""}, {S1, "1.2.404"}, {S1, S2 + ".1"}} {
		if _, err := c.Instances(ctx, args[0], args[1]); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("Instances(%q, %q): %v, want ErrNotFound", args[0], args[1], err)
		}
	}
}

func recUIDs(recs []catalog.Record) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, r.InstanceUID)
	}
	return out
}

func studyOf(t *testing.T, c catalog.Catalog, uid string) dicomjson.Dataset {
	t.Helper()
	res := mustSearch(t, c, catalog.StudyLevel, "", "", "StudyInstanceUID="+uid)
	if len(res) != 1 {
		return nil
	}
	return res[0]
}

func aggregates(d dicomjson.Dataset) string {
	if d == nil {
		return "absent"
	}
	return fmt.Sprintf("series=%s instances=%s modalities=%v", d.String(catalog.TagNumberOfStudyRelatedSeries),
		d.String(catalog.TagNumberOfStudyRelatedInstances), d.Strings(catalog.TagModalitiesInStudy))
}

func testAggregates(t *testing.T, c catalog.Catalog) {
	check := func(step, uid, want string) {
		t.Helper()
		if got := aggregates(studyOf(t, c, uid)); got != want {
			t.Errorf("%s: %s", step, cmp.Diff(want, got))
		}
	}
	check("fixture", S1, "series=2 instances=3 modalities=[CT SR]")
	check("fixture", S5, "series=3 instances=4 modalities=[DX]")
	if err := c.Delete(ctx, S1+".2.1"); err != nil {
		t.Fatal(err)
	}
	check("delete SR", S1, "series=1 instances=2 modalities=[CT]")
	if res := mustSearch(t, c, catalog.StudyLevel, "", "", "ModalitiesInStudy=SR"); len(res) != 0 {
		t.Errorf("ModalitiesInStudy=SR still matches after delete")
	}
	if err := c.Delete(ctx, S1+".2.1"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
	p := Fixture()[2]
	p.Attrs.Set(catalog.TagModality, "CS", "KO")
	if err := c.Put(ctx, p); err != nil {
		t.Fatal(err)
	}
	check("put KO", S1, "series=2 instances=3 modalities=[CT KO]")
	for _, uid := range []string{S1 + ".1.1", S1 + ".1.2", S1 + ".2.1"} {
		if err := c.Delete(ctx, uid); err != nil {
			t.Fatal(err)
		}
	}
	check("delete all", S1, "absent")
	if res := mustSearch(t, c, catalog.StudyLevel, "", "", "PatientID=P001"); !cmp.Equal(uids(res, catalog.TagStudyInstanceUID), []string{S3}) {
		t.Errorf("PatientID=P001 after deleting S1: %v", uids(res, catalog.TagStudyInstanceUID))
	}
	if res := mustSearch(t, c, catalog.SeriesLevel, S1, "", ""); len(res) != 0 {
		t.Errorf("series of a deleted study: %d", len(res))
	}
	if _, err := c.Instances(ctx, S1, ""); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("Instances(deleted study): %v", err)
	}
	// Series-level count.
	if err := c.Delete(ctx, S2+".1.2"); err != nil {
		t.Fatal(err)
	}
	res := mustSearch(t, c, catalog.SeriesLevel, S2, "", "")
	if len(res) != 1 || res[0].String(catalog.TagNumberOfSeriesRelatedInstances) != "2" {
		t.Errorf("series count after delete: %v", res)
	}
}

func testRepresentative(t *testing.T, c catalog.Catalog) {
	// A later-received instance with a corrected name becomes the study's
	// representative, whatever the Put order; deleting it restores the old.
	fix := Fixture()[0]
	fix.InstanceUID = S1 + ".1.9"
	fix.ReceivedAt = base.Add(time.Hour)
	fix.Attrs = fix.Attrs.Clone()
	fix.Attrs.Set(catalog.TagPatientName, "PN", dicomjson.PersonName{Alphabetic: "Zhang^Sanfeng", Ideographic: "张^三丰"})
	fix.Attrs.Set(catalog.TagStudyDate, "DA", "20190101")
	fix.Attrs.Set(catalog.TagSOPInstanceUID, "UI", fix.InstanceUID)
	if err := c.Put(ctx, fix); err != nil {
		t.Fatal(err)
	}
	if got := studyOf(t, c, S1).String(catalog.TagPatientName); got != "Zhang^Sanfeng=张^三丰" {
		t.Errorf("after corrected re-send PatientName = %q", got)
	}
	if res := mustSearch(t, c, catalog.StudyLevel, "", "", "PatientName=张^三"); len(res) != 0 {
		t.Errorf("old name still indexed")
	}
	if res := mustSearch(t, c, catalog.StudyLevel, "", "", "StudyDate=20190101"); !cmp.Equal(uids(res, catalog.TagStudyInstanceUID), []string{S1}) {
		t.Errorf("new date not indexed: %v", uids(res, catalog.TagStudyInstanceUID))
	}
	if got := uids(mustSearch(t, c, catalog.StudyLevel, "", "", ""), catalog.TagStudyInstanceUID); !cmp.Equal(got, []string{S3, S2, S5, S1, S4}) {
		t.Errorf("order after date change: %v", got)
	}
	// An older-received instance does not take over.
	old := Fixture()[1]
	old.InstanceUID = S1 + ".1.8"
	old.ReceivedAt = base.Add(-time.Hour)
	old.Attrs = old.Attrs.Clone()
	old.Attrs.Set(catalog.TagPatientName, "PN", dicomjson.PersonName{Alphabetic: "Wrong^Name"})
	old.Attrs.Set(catalog.TagSOPInstanceUID, "UI", old.InstanceUID)
	if err := c.Put(ctx, old); err != nil {
		t.Fatal(err)
	}
	if got := studyOf(t, c, S1).String(catalog.TagPatientName); got != "Zhang^Sanfeng=张^三丰" {
		t.Errorf("older instance took over: PatientName = %q", got)
	}
	for _, uid := range []string{fix.InstanceUID, old.InstanceUID} {
		if err := c.Delete(ctx, uid); err != nil {
			t.Fatal(err)
		}
	}
	if got := studyOf(t, c, S1).String(catalog.TagPatientName); got != "Zhang^San=张^三" {
		t.Errorf("after deleting the representative PatientName = %q", got)
	}
	if res := mustSearch(t, c, catalog.StudyLevel, "", "", "PatientName=张^三丰"); len(res) != 0 {
		t.Errorf("deleted representative's name still indexed")
	}
	if got := uids(mustSearch(t, c, catalog.StudyLevel, "", "", ""), catalog.TagStudyInstanceUID); !cmp.Equal(got, []string{S3, S2, S1, S5, S4}) {
		t.Errorf("order after restoring: %v", got)
	}
}

func testIdempotent(t *testing.T, c catalog.Catalog) {
	before := mustSearch(t, c, catalog.InstanceLevel, "", "", "includefield=all")
	for _, r := range Fixture() {
		if err := c.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	after := mustSearch(t, c, catalog.InstanceLevel, "", "", "includefield=all")
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("re-Put changed answers (-before +after):\n%s", diff)
	}
}

func testMove(t *testing.T, c catalog.Catalog) {
	// Re-Put under another series and study replaces the old record.
	r := Fixture()[0]
	r.StudyUID, r.SeriesUID = S2, S2+".9"
	r.Attrs = r.Attrs.Clone()
	delete(r.Attrs, catalog.TagStudyInstanceUID)
	delete(r.Attrs, catalog.TagSeriesInstanceUID)
	if err := c.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got := aggregates(studyOf(t, c, S1)); got != "series=2 instances=2 modalities=[CT SR]" {
		t.Errorf("old study after move: %s", got)
	}
	if got := aggregates(studyOf(t, c, S2)); got != "series=2 instances=4 modalities=[CT MR]" {
		t.Errorf("new study after move: %s", got)
	}
	got, err := c.Instance(ctx, r.InstanceUID)
	if err != nil || got.StudyUID != S2 || got.Attrs.String(catalog.TagStudyInstanceUID) != S2 {
		t.Errorf("moved Instance = %v %v", got.StudyUID, err)
	}
}

func testInvalidRecord(t *testing.T, c catalog.Catalog) {
	good := Fixture()[0]
	for name, mut := range map[string]func(*catalog.Record){
		"no study":   func(r *catalog.Record) { r.StudyUID = "" },
		"no sop":     func(r *catalog.Record) { r.InstanceUID = "" },
		"bad series": func(r *catalog.Record) { r.SeriesUID = "1.2:3" },
		"long uid":   func(r *catalog.Record) { r.InstanceUID = strings.Repeat("1", 65) },
		"bad tag":    func(r *catalog.Record) { r.Attrs = dicomjson.Dataset{"PatientName": {VR: "PN"}} },
		"contradiction": func(r *catalog.Record) {
			r.Attrs = dicomjson.Dataset{catalog.TagStudyInstanceUID: {VR: "UI", Value: []any{"1.2.3"}}}
		},
		"bad site": func(r *catalog.Record) { r.Site = "t1\n" },
	} {
		r := good
		r.Attrs = good.Attrs.Clone()
		mut(&r)
		if err := c.Put(ctx, r); !errors.Is(err, catalog.ErrInvalidRecord) {
			t.Errorf("%s: Put = %v, want ErrInvalidRecord", name, err)
		}
	}
	if res := mustSearch(t, c, catalog.InstanceLevel, "", "", ""); len(res) != 0 {
		t.Errorf("invalid Puts left %d instances", len(res))
	}
}

func testReset(t *testing.T, c catalog.Catalog) {
	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	for _, l := range []catalog.Level{catalog.StudyLevel, catalog.SeriesLevel, catalog.InstanceLevel} {
		if res := mustSearch(t, c, l, "", "", ""); len(res) != 0 {
			t.Errorf("after Reset %v search returns %d", l, len(res))
		}
	}
	if _, err := c.Instance(ctx, S1+".1.1"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("Instance after Reset: %v", err)
	}
	if err := c.Put(ctx, Fixture()[0]); err != nil {
		t.Fatal(err)
	}
	if got := aggregates(studyOf(t, c, S1)); got != "series=1 instances=1 modalities=[CT]" {
		t.Errorf("after Reset and one Put: %s", got)
	}
}

func testConcurrent(t *testing.T, c catalog.Catalog) {
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := R(S1, fmt.Sprintf("%s.%d", S1, i%4), fmt.Sprintf("%s.9.%d", S1, i), fmt.Sprintf("t%d", i%3), i,
				"PatientID", "P001", "StudyDate", "20200315", "Modality", []string{"CT", "MR", "US", "DX"}[i%4], "InstanceNumber", int64(i))
			errs <- c.Put(ctx, r)
			if i%5 == 0 {
				errs <- c.Delete(ctx, r.InstanceUID)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := aggregates(studyOf(t, c, S1)); got != "series=4 instances=32 modalities=[CT DX MR US]" {
		t.Errorf("after concurrent Puts: %s", got)
	}
	recs, err := c.Instances(ctx, S1, "")
	if err != nil || len(recs) != 32 {
		t.Errorf("Instances after concurrent Puts: %d, %v", len(recs), err)
	}
}

func testEmpty(t *testing.T, c catalog.Catalog) {
	res, err := c.Search(ctx, catalog.Query{Level: catalog.StudyLevel})
	if err != nil || res == nil || len(res) != 0 {
		t.Errorf("Search on empty catalog = %v, %v; want empty non-nil slice", res, err)
	}
	if _, err := c.Instances(ctx, S1, ""); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("Instances on empty: %v", err)
	}
	if err := c.Delete(ctx, S1); err != nil {
		t.Errorf("Delete on empty: %v", err)
	}
}

func testOrdering(t *testing.T, c catalog.Catalog) {
	for i, r := range []catalog.Record{
		R("1.9.1", "1.9.1.1", "1.9.1.1.1", "t1", 1, "StudyDate", "20200101", "SeriesNumber", int64(1)),
		R("1.9.2", "1.9.2.1", "1.9.2.1.1", "t1", 2, "StudyDate", "20200101"),
		R("1.9.3", "1.9.3.1", "1.9.3.1.1", "t1", 3, "StudyDate", "20200101", "StudyTime", "1200"),
		R("1.9.4", "1.9.4.1", "1.9.4.1.1", "t1", 4),
		R("1.9.0", "1.9.0.1", "1.9.0.1.1", "t1", 5, "StudyDate", "bad"),
		R("1.9.1", "1.9.1.2", "1.9.1.2.1", "t1", 0, "StudyDate", "20200101", "SeriesNumber", int64(1)),
		R("1.9.1", "1.9.1.0", "1.9.1.0.1", "t1", 0, "StudyDate", "20200101", "SeriesNumber", int64(10)),
		R("1.9.1", "1.9.1.3", "1.9.1.3.1", "t1", 0, "StudyDate", "20200101"),
	} {
		if err := c.Put(ctx, r); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	want := []string{"1.9.3", "1.9.2", "1.9.1", "1.9.4", "1.9.0"}
	if diff := cmp.Diff(want, uids(mustSearch(t, c, catalog.StudyLevel, "", "", ""), catalog.TagStudyInstanceUID)); diff != "" {
		t.Errorf("study order (-want +got):\n%s", diff)
	}
	if res := mustSearch(t, c, catalog.StudyLevel, "", "", "StudyDate=19000101-"); len(res) != 3 {
		t.Errorf("undated or badly dated studies match a date range: %v", uids(res, catalog.TagStudyInstanceUID))
	}
	want = []string{"1.9.1.1", "1.9.1.2", "1.9.1.0", "1.9.1.3"}
	if diff := cmp.Diff(want, uids(mustSearch(t, c, catalog.SeriesLevel, "1.9.1", "", ""), catalog.TagSeriesInstanceUID)); diff != "" {
		t.Errorf("series order (-want +got):\n%s", diff)
	}
}

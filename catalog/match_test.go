package catalog

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/huren-health/huren/dicomjson"
)

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"*", "abc", true}, {"a*", "abc", true}, {"a*c", "abc", true}, {"a*c", "ab", false},
		{"?", "张", true}, {"??", "张", false}, {"张*", "张三", true}, {"*三", "张三", true}, {"a?c", "abc", true},
		{"a?c", "ac", false}, {"*b*", "abc", true}, {"*x*", "abc", false}, {"a**", "a", true}, {"", "", true},
		{"abc", "abc", true}, {"abc", "abd", false}, {"*a*b", "aXbXab", true}, {"*a*b", "aXbXa", false},
	} {
		if got := glob(tc.p, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

func TestPNTokens(t *testing.T) {
	got := PNTokens("Zhang^San Feng^^=张^三丰=  ")
	want := []string{"ZHANG^SAN FENG=张^三丰", "ZHANG^SAN FENG", "ZHANG", "SAN FENG", "SAN", "FENG", "张^三丰", "张", "三丰"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PNTokens (-want +got):\n%s", diff)
	}
	if PNTokens("  ^^ ") != nil {
		t.Errorf("empty name has tokens")
	}
}

func TestMatchKinds(t *testing.T) {
	el := func(vr string, vals ...any) *dicomjson.Element { return &dicomjson.Element{VR: vr, Value: vals} }
	for _, tc := range []struct {
		tag, value string
		fuzzy      bool
		elem       *dicomjson.Element
		want       bool
	}{
		{TagStudyDate, "20200101", false, el("DA", "20200101"), true},
		{TagStudyDate, "20200101", false, el("DA", "20200102"), false},
		{TagStudyDate, "20200101-", false, el("DA", "20200102"), true},
		{TagStudyDate, "-20200101", false, el("DA", "20200102"), false},
		{TagStudyDate, "20200101-20200101", false, el("DA", "20200101"), true},
		{TagStudyDate, "20200101", false, el("DA", "2020"), false},
		{TagStudyDate, "20200101", false, nil, false},
		{TagStudyDate, "", false, nil, true},
		{TagStudyTime, "12", false, el("TM", "123000"), true},
		{TagStudyTime, "12", false, el("TM", "130000"), false},
		{TagStudyTime, "1200-1230", false, el("TM", "123059.999"), true},
		{TagStudyTime, "1200-1230", false, el("TM", "1231"), false},
		{TagStudyTime, "-0900", false, el("TM", "08:30:00"), true},
		{"0008002A", "20200101-20200102", false, el("DT", "20200102235959.123456+0800"), true},
		{"0008002A", "2020", false, el("DT", "20201231"), true},
		{"0008002A", "202001010000&+0800-202001010100&-0500", false, el("DT", "20200101003000"), true},
		{"0008002A", "2021-", false, el("DT", "20201231"), false},
		{TagPatientName, "zhang*", false, el("PN", map[string]any{"Alphabetic": "Zhang^San"}), true},
		{TagPatientName, "ZHANG^SAN", false, el("PN", dicomjson.PersonName{Alphabetic: "zhang^san^^"}), true},
		{TagPatientName, "三", false, el("PN", dicomjson.PersonName{Alphabetic: "Zhang^San", Ideographic: "张^三"}), true},
		{TagPatientName, "zh", true, el("PN", dicomjson.PersonName{Alphabetic: "Zhang^San"}), true},
		{TagPatientName, "zh", false, el("PN", dicomjson.PersonName{Alphabetic: "Zhang^San"}), false},
		{TagPatientName, `li\zhang`, false, el("PN", dicomjson.PersonName{Alphabetic: "Zhang^San"}), true},
		{TagPatientID, "P1", false, el("LO", "P1 "), true},
		{TagPatientID, "p1", false, el("LO", "P1"), false},
		{TagPatientID, "P*", false, el("LO", "P1"), true},
		{TagModalitiesInStudy, "CT,MR", false, el("CS", "US", "MR"), true},
		{TagModalitiesInStudy, "CT", false, el("CS", "US", "MR"), false},
		{TagStudyInstanceUID, `1.2,1.3\1.4`, false, el("UI", "1.4"), true},
		{TagStudyInstanceUID, "1.2", false, el("UI", "1.20"), false},
		{TagSeriesNumber, "2", false, el("IS", int64(2)), true},
		{TagSeriesNumber, "2.0", false, el("IS", "2"), true},
		{TagSeriesNumber, "3", false, el("IS", float64(2)), false},
		{"0040A730", "x*", false, el("UT", "xyz"), true}, // unknown tag: text by stored VR
		{"00091010", "abc", false, el("PN", map[string]any{"Alphabetic": "ABC"}), true},
	} {
		m, err := compileMatch(tc.tag, tc.value, tc.fuzzy)
		if err != nil {
			t.Errorf("compileMatch(%s, %q): %v", tc.tag, tc.value, err)
			continue
		}
		if got := m.match(tc.elem); got != tc.want {
			t.Errorf("%s=%q vs %v: %v, want %v", tc.tag, tc.value, tc.elem, got, tc.want)
		}
	}
	for _, tc := range [][2]string{{TagStudyDate, "2020-2019"}, {TagStudyDate, "-"}, {TagStudyTime, "1260"},
		{TagStudyTime, "12.5"}, {"0008002A", "20201"}, {TagStudyInstanceUID, "1.2.*"}, {TagRows, "abc"},
		{"00400275", "x"}, {TagPatientName, "bad\x00"}, {TagSeriesNumber, "NaN"}} {
		if _, err := compileMatch(tc[0], tc[1], false); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("compileMatch(%s, %q) = %v, want ErrInvalidQuery", tc[0], tc[1], err)
		}
	}
}

func TestStudyScore(t *testing.T) {
	for _, tc := range []struct {
		date, time string
		want       int64
	}{
		{"20200315", "101500", 20200315101500}, {"20200315", "", 20200315000000}, {"20200315", "10", 20200315100000},
		{"20200315", "junk", 20200315000000}, {"", "101500", 0}, {"2020", "", 0}, {"20201332", "", 0},
	} {
		d := dicomjson.Dataset{}
		d.Set(TagStudyDate, "DA", tc.date)
		d.Set(TagStudyTime, "TM", tc.time)
		if got := StudyScore(d); got != tc.want {
			t.Errorf("StudyScore(%q, %q) = %d, want %d", tc.date, tc.time, got, tc.want)
		}
	}
}

package catalog

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/huren-health/huren/dicomjson"
)

// checkCanonical compares canonicalAttrs with the JSON round trip it stands
// for: the same error-or-not and, without error, deeply equal datasets.
func checkCanonical(t *testing.T, name string, ds dicomjson.Dataset) {
	t.Helper()
	want, werr := viaJSON(ds)
	got, gerr := canonicalAttrs(ds)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("%s: round trip error %v, canonical error %v", name, werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		t.Fatalf("%s: canonical copy differs from the JSON round trip\n got %s (%#v)\nwant %s (%#v)", name, gj, got, wj, want)
	}
}

func TestCanonicalAttrsMatchesJSONRoundTrip(t *testing.T) {
	pn := dicomjson.PersonName{Alphabetic: "Wang^XiaoDong", Ideographic: "王^小东"}
	cases := map[string]dicomjson.Dataset{
		"empty":                        {},
		"nil element":                  {"00100010": nil},
		"strings":                      {"00100020": {VR: "LO", Value: []any{"ID-1", "", "中文"}}},
		"invalid utf-8 folds per byte": {"00081030": {VR: "LO", Value: []any{"a\xff\xfeb\xe4\xb8"}}},
		"invalid utf-8 in vr and uris": {"7FE00010": {VR: "O\xffW", BulkDataURI: "x\xc0y"}},
		"numbers":                      {"00200013": {VR: "IS", Value: []any{json.Number("12"), 3.0, 1e21, 1e-7, -0.0, 42, int64(-7), uint8(200), float32(0.1)}}},
		"empty json.Number is 0":       {"00200013": {VR: "IS", Value: []any{json.Number("")}}},
		"malformed json.Number":        {"00200013": {VR: "IS", Value: []any{json.Number("12a")}}},
		"NaN":                          {"00181050": {VR: "DS", Value: []any{math.NaN()}}},
		"Inf":                          {"00181050": {VR: "DS", Value: []any{math.Inf(-1)}}},
		"person names": {"00100010": {VR: "PN", Value: []any{pn, &pn, (*dicomjson.PersonName)(nil), dicomjson.PersonName{},
			map[string]any{"Alphabetic": "Li^Si", "Phonetic": "li\xff"}}}},
		"nested": {"00081111": {VR: "SQ", Value: []any{dicomjson.Dataset{"00081150": {VR: "UI", Value: []any{"1.2.3"}}},
			map[string]any{"k": []any{1, "x", nil, true, map[string]any{}}}, []any(nil), map[string]any(nil)}}},
		"empty value slice": {"00080060": {VR: "CS", Value: []any{}}},
		"bool and nil":      {"00091001": {VR: "UN", Value: []any{true, false, nil}}},
		"other types":       {"00091002": {VR: "LO", Value: []any{[]string{"a", "b"}, struct{ A int }{1}, map[string]int{"z": 1}}}},
		"invalid map key":   {"00091003": {VR: "LO", Value: []any{map[string]any{"\xff": 1, "\xfe": 2}}}},
		"invalid tag key":   {"0010\xff010": {VR: "PN"}},
		"unsupported type":  {"00091004": {VR: "LO", Value: []any{make(chan int)}}},
	}
	for name, ds := range cases {
		checkCanonical(t, name, ds)
	}
}

// FuzzCanonicalAttrs builds datasets of every value shape from the fuzz
// input and checks the direct copy against the JSON round trip.
func FuzzCanonicalAttrs(f *testing.F) {
	f.Add([]byte("\x00\x05hello\x01\x08\x00\x00\x00\x00\x00\x00\xf8\x7f"))
	f.Add([]byte("\x04\x03a\xffb\x05\x02\x00\x01x\x06\x01\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &gen{b: data}
		ds := dicomjson.Dataset{}
		for i := 0; i < 6 && len(g.b) > 0; i++ {
			tag := "0010" + string("0123456789ABCDEF"[g.byte()%16]) + "010"
			if g.byte()%7 == 0 {
				ds[tag] = nil
				continue
			}
			e := &dicomjson.Element{VR: g.str()}
			for n := int(g.byte() % 4); n > 0; n-- {
				e.Value = append(e.Value, g.value(0))
			}
			ds[tag] = e
		}
		checkCanonical(t, "fuzz", ds)
	})
}

// gen turns fuzz bytes into values.
type gen struct{ b []byte }

func (g *gen) byte() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

func (g *gen) str() string {
	n := int(g.byte() % 12)
	n = min(n, len(g.b))
	s := string(g.b[:n])
	g.b = g.b[n:]
	return s
}

func (g *gen) value(depth int) any {
	kind := g.byte() % 12
	if depth > 3 && kind >= 9 {
		kind = 0
	}
	switch kind {
	case 0:
		return g.str()
	case 1:
		var raw [8]byte
		for i := range raw {
			raw[i] = g.byte()
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(raw[:]))
	case 2:
		return json.Number(g.str())
	case 3:
		return int64(int8(g.byte())) * 1000003
	case 4:
		return dicomjson.PersonName{Alphabetic: g.str(), Ideographic: g.str(), Phonetic: g.str()}
	case 5:
		p := dicomjson.PersonName{Alphabetic: g.str()}
		return &p
	case 6:
		return nil
	case 7:
		return g.byte()%2 == 0
	case 8:
		return uint16(g.byte()) << 3
	case 9:
		var out []any
		for n := int(g.byte() % 3); n > 0; n-- {
			out = append(out, g.value(depth+1))
		}
		return out
	case 10:
		m := map[string]any{}
		for n := int(g.byte() % 3); n > 0; n-- {
			m[g.str()] = g.value(depth + 1)
		}
		return m
	default:
		return dicomjson.Dataset{"00081150": {VR: g.str(), Value: []any{g.value(depth + 1)}}}
	}
}

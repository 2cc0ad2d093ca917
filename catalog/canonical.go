package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/huren-health/huren/dicomjson"
)

// canonicalAttrs returns the deep copy of attrs that a JSON round trip
// (json.Marshal, then dicomjson.Decode with json.Number) would give —
// the shape every backend stores and a Redis round trip reproduces — without
// encoding and parsing the text: on the ingest path that round trip cost
// as much CPU as parsing the instance's header. The common value types
// (strings, numbers, person names, nested arrays and objects of those) are
// copied directly; anything else takes the JSON round trip itself, so the
// result is the same for every input. canonical_test.go checks it against
// the round trip.
func canonicalAttrs(attrs dicomjson.Dataset) (dicomjson.Dataset, error) {
	out := make(dicomjson.Dataset, len(attrs))
	for tag, e := range attrs {
		if !utf8.ValidString(tag) {
			// Keys that JSON would rewrite could collide after rewriting;
			// leave that to the real round trip.
			return viaJSON(attrs)
		}
		if e == nil {
			out[tag] = nil
			continue
		}
		c := &dicomjson.Element{VR: jsonString(e.VR), BulkDataURI: jsonString(e.BulkDataURI), InlineBinary: jsonString(e.InlineBinary)}
		if len(e.Value) > 0 {
			c.Value = make([]any, len(e.Value))
			for i, v := range e.Value {
				cv, err := canonicalValue(v)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", tag, err)
				}
				c.Value[i] = cv
			}
		}
		out[tag] = c
	}
	return out, nil
}

// canonicalValue is one value after a JSON round trip.
func canonicalValue(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return jsonString(x), nil
	case bool:
		return x, nil
	case json.Number, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		// json.Marshal decides the text (and refuses NaN, ±Inf and
		// malformed json.Number); decoding keeps that text as a json.Number.
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		return json.Number(b), nil
	case dicomjson.PersonName:
		return personName(x), nil
	case *dicomjson.PersonName:
		if x == nil {
			return nil, nil
		}
		return personName(*x), nil
	case []any:
		if x == nil {
			return nil, nil
		}
		out := make([]any, len(x))
		for i, e := range x {
			c, err := canonicalValue(e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		if x == nil {
			return nil, nil
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if !utf8.ValidString(k) {
				return valueViaJSON(v)
			}
			c, err := canonicalValue(e)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	default:
		return valueViaJSON(v)
	}
}

// personName is a PN value as JSON gives it back: an object holding the
// non-empty component groups.
func personName(p dicomjson.PersonName) map[string]any {
	m := make(map[string]any, 3)
	if p.Alphabetic != "" {
		m["Alphabetic"] = jsonString(p.Alphabetic)
	}
	if p.Ideographic != "" {
		m["Ideographic"] = jsonString(p.Ideographic)
	}
	if p.Phonetic != "" {
		m["Phonetic"] = jsonString(p.Phonetic)
	}
	return m
}

// jsonString is s as JSON encodes it and decodes it back: every byte that
// is not part of valid UTF-8 becomes U+FFFD (one per byte, unlike
// strings.ToValidUTF8, which folds a run into one).
func jsonString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// viaJSON is the round trip itself.
func viaJSON(attrs dicomjson.Dataset) (dicomjson.Dataset, error) {
	raw, err := json.Marshal(attrs)
	if err != nil {
		return nil, err
	}
	return dicomjson.Decode(raw)
}

func valueViaJSON(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

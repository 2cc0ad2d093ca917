package catalog

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// ParseQuery builds a Query from QIDO-RS URL parameters (PS3.18 §8.3.4)
// for level; the HTTP layer then sets StudyUID/SeriesUID from the path and
// Sites from the caller's access scope. Recognised parameters:
//
//   - attribute keys by keyword or 8-hex tag ("PatientID=…", "00100020=…");
//     a key given several times is one key whose values are alternatives
//     (joined with '\'), so "ModalitiesInStudy=CT&ModalitiesInStudy=MR"
//     means CT or MR;
//   - includefield: repeated and/or comma-separated keywords or tags, or
//     "all";
//   - limit, offset: non-negative integers;
//   - fuzzymatching: "true" or "false".
//
// The four parameter names are matched case-insensitively. Unknown
// attributes, sequence paths ("00400275.00401001"), malformed numbers and
// values that fail Compile are ErrInvalidQuery, with the offending key in
// the message. Keys are processed in sorted order, so the result does not
// depend on map iteration.
func ParseQuery(level Level, v url.Values) (Query, error) {
	q := Query{Level: level}
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vals := v[k]
		switch strings.ToLower(k) {
		case "includefield":
			for _, s := range vals {
				for _, f := range strings.Split(s, ",") {
					if f = strings.TrimSpace(f); f != "" {
						q.IncludeFields = append(q.IncludeFields, f)
					}
				}
			}
			continue
		case "limit", "offset":
			n, err := strconv.Atoi(strings.TrimSpace(last(vals)))
			if err != nil || n < 0 {
				return Query{}, invalidf("%s=%q is not a non-negative integer", k, last(vals))
			}
			if strings.EqualFold(k, "limit") {
				q.Limit = n
			} else {
				q.Offset = n
			}
			continue
		case "fuzzymatching":
			b, err := strconv.ParseBool(strings.TrimSpace(last(vals)))
			if err != nil {
				return Query{}, invalidf("fuzzymatching=%q is not true or false", last(vals))
			}
			q.FuzzyMatching = b
			continue
		}
		if strings.Contains(k, ".") {
			return Query{}, invalidf("sequence matching (%q) is not supported", k)
		}
		tag, ok := normTag(k)
		if !ok {
			return Query{}, invalidf("unknown query parameter %q", k)
		}
		q.Matches = append(q.Matches, Match{Tag: tag, Value: strings.Join(vals, `\`)})
	}
	for i, f := range q.IncludeFields {
		if strings.EqualFold(f, "all") {
			q.IncludeAll = true
			continue
		}
		tag, ok := normTag(f)
		if !ok {
			return Query{}, invalidf("unknown includefield %q", f)
		}
		q.IncludeFields[i] = tag
	}
	if _, err := Compile(q); err != nil {
		return Query{}, err
	}
	return q, nil
}

func last(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

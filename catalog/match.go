package catalog

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/huren-health/huren/dicomjson"
)

// matchKind is how a key's value is interpreted (PS3.4 C.2.2.2).
type matchKind int

const (
	kindUnknownVR matchKind = iota // tag not in the dictionary: decided by the stored VR
	kindText                       // single value / wildcard, case-sensitive
	kindPN                         // single value / wildcard, case-insensitive, any group/component
	kindUID                        // UID list matching
	kindDate                       // DA: single value or range
	kindTime                       // TM: single value or range
	kindDateTime                   // DT: single value or range (offsets ignored)
	kindNumber                     // IS/DS/US/…: numeric equality
	kindNone                       // SQ and binary VRs: not matchable
)

func kindForVR(vr string) matchKind {
	switch vr {
	case "":
		return kindUnknownVR
	case "UI":
		return kindUID
	case "DA":
		return kindDate
	case "TM":
		return kindTime
	case "DT":
		return kindDateTime
	case "PN":
		return kindPN
	case "IS", "DS", "US", "UL", "SS", "SL", "FL", "FD", "SV", "UV":
		return kindNumber
	case "SQ", "OB", "OW", "OF", "OD", "OL", "OV", "UN":
		return kindNone
	default:
		return kindText
	}
}

// matcher is one compiled matching key.
type matcher struct {
	tag       string
	kind      matchKind
	universal bool     // empty value: matches everything (the key is only returned)
	alts      []string // text/PN/UID/number alternatives (PN upper-cased)
	nums      []float64
	lo, hi    string // normalised range bounds for DA/TM/DT ("" = open)
	fuzzy     bool
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidQuery, fmt.Sprintf(format, args...))
}

func hasWildcard(s string) bool { return strings.ContainsAny(s, "*?") }

// compileMatch validates and compiles the value of one key.
func compileMatch(tag, value string, fuzzy bool) (*matcher, error) {
	m := &matcher{tag: tag, kind: kindForVR(vrOf(tag)), fuzzy: fuzzy}
	if m.kind == kindNone {
		return nil, invalidf("attribute %s (%s) cannot be used as a matching key", tag, vrOf(tag))
	}
	if !utf8.ValidString(value) || strings.ContainsAny(value, "\x00\r\n") {
		return nil, invalidf("value of %s is not valid text", tag)
	}
	value = strings.TrimSpace(value)
	if value == "" || value == "*" && m.kind != kindUID && m.kind != kindNumber {
		// "*" alone is universal matching too (PS3.4 C.2.2.2.4).
		m.universal = true
		return m, nil
	}
	switch m.kind {
	case kindUID:
		for _, u := range splitList(value, true) {
			if !validUID(u) {
				return nil, invalidf("%s: %q is not a UID", tag, u)
			}
			m.alts = append(m.alts, u)
		}
	case kindDate, kindTime, kindDateTime:
		lo, hi, err := parseRange(m.kind, value)
		if err != nil {
			return nil, invalidf("%s: %v", tag, err)
		}
		m.lo, m.hi = lo, hi
	case kindNumber:
		for _, s := range splitList(value, false) {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, invalidf("%s: %q is not a number", tag, s)
			}
			m.nums = append(m.nums, f)
		}
	case kindPN:
		for _, s := range splitList(value, false) {
			m.alts = append(m.alts, strings.ToUpper(normPN(s)))
		}
	default: // text and unknown VR
		for _, s := range splitList(value, vrOf(tag) == "CS") {
			m.alts = append(m.alts, s)
		}
	}
	return m, nil
}

// splitList splits a query value into alternatives on '\' (DICOM value
// separator) and, for UIDs and code strings, also on ','.
func splitList(v string, comma bool) []string {
	f := func(r rune) bool { return r == '\\' || comma && r == ',' }
	var out []string
	for _, s := range strings.FieldsFunc(v, f) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// validUID accepts DICOM UIDs (digits and dots) plus the letters, '-' and
// '_' that real-world equipment puts in them; 1–64 characters. The same rule
// guards Put, so every stored UID is also a safe Redis key component.
func validUID(u string) bool {
	if len(u) == 0 || len(u) > 64 {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if !(c >= '0' && c <= '9' || c == '.' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// parseRange parses "v", "v-", "-v" or "a-b" for DA/TM/DT into normalised
// inclusive bounds; "" means open.
func parseRange(k matchKind, v string) (lo, hi string, err error) {
	if strings.ContainsAny(v, "*?\\") {
		return "", "", fmt.Errorf("wildcards and lists are not allowed in %q", v)
	}
	a, b, isRange := strings.Cut(v, "-")
	if k == kindDateTime && isRange {
		// A DT may carry a negative UTC offset ("…&-0500"): only a '-'
		// that is not part of an offset separates the range.
		a, b, isRange = cutDTRange(v)
	}
	if !isRange {
		b = a
	}
	if a == "" && b == "" {
		return "", "", fmt.Errorf("empty range %q", v)
	}
	if a != "" {
		if lo, err = normBound(k, a, false); err != nil {
			return "", "", err
		}
	}
	if b != "" {
		if hi, err = normBound(k, b, true); err != nil {
			return "", "", err
		}
	}
	if lo != "" && hi != "" && lo > hi {
		return "", "", fmt.Errorf("range %q ends before it starts", v)
	}
	return lo, hi, nil
}

func cutDTRange(v string) (string, string, bool) {
	for i := 0; i < len(v); i++ {
		if v[i] == '-' && (i == 0 || v[i-1] != '&') {
			return v[:i], v[i+1:], true
		}
	}
	return v, "", false
}

// normBound normalises one DA/TM/DT value to a fixed-width comparable form,
// padding missing trailing components with their minimum (lower bound) or
// maximum (upper bound), so "2020" as an upper bound includes 2020-12-31.
func normBound(k matchKind, s string, upper bool) (string, error) {
	switch k {
	case kindDate:
		if len(s) != 8 || !allDigits(s) {
			return "", fmt.Errorf("date %q is not YYYYMMDD", s)
		}
		if _, err := time.Parse("20060102", s); err != nil {
			return "", fmt.Errorf("date %q is not a calendar date", s)
		}
		return s, nil
	case kindTime:
		return normTime(s, upper)
	default:
		return normDateTime(s, upper)
	}
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

// normTime normalises HH[MM[SS[.F{1,6}]]] to "HHMMSS.ffffff".
func normTime(s string, upper bool) (string, error) {
	s = strings.ReplaceAll(s, ":", "") // ACR-NEMA style "HH:MM:SS"
	main, frac, hasFrac := strings.Cut(s, ".")
	if !allDigits(main) || len(main)%2 != 0 || len(main) > 6 || hasFrac && (len(main) != 6 || len(frac) > 6 || frac != "" && !allDigits(frac)) {
		return "", fmt.Errorf("time %q is not HH[MM[SS[.FFFFFF]]]", s)
	}
	lim := []int{23, 59, 60}
	for i := 0; i < len(main); i += 2 {
		if n, _ := strconv.Atoi(main[i : i+2]); n > lim[i/2] {
			return "", fmt.Errorf("time %q out of range", s)
		}
	}
	pad := "000000"
	fpad := "000000"
	if upper {
		pad, fpad = "235959", "999999"
	}
	main += pad[len(main):]
	frac += fpad[len(frac):]
	return main + "." + frac, nil
}

// normDateTime normalises YYYY[MM[DD[HH[MM[SS[.F]]]]]][&ZZXX] to
// "YYYYMMDDHHMMSS.ffffff"; the UTC offset is ignored.
func normDateTime(s string, upper bool) (string, error) {
	if i := strings.IndexAny(s, "+&"); i >= 0 {
		s = s[:i]
	} else if i := strings.LastIndexByte(s, '-'); i > 0 {
		s = s[:i]
	}
	main, frac, hasFrac := strings.Cut(s, ".")
	if !allDigits(main) || len(main) < 4 || len(main) > 14 || len(main)%2 != 0 || hasFrac && (len(main) != 14 || len(frac) > 6 || frac != "" && !allDigits(frac)) {
		return "", fmt.Errorf("datetime %q is not YYYY[MM[DD[HH[MM[SS[.F]]]]]]", s)
	}
	lo, hi := "00000101000000", "99991231235959"
	if upper {
		main += hi[len(main):]
	} else {
		main += lo[len(main):]
	}
	fpad := "000000"
	if upper {
		fpad = "999999"
	}
	frac += fpad[len(frac):]
	return main + "." + frac, nil
}

// match reports whether the element satisfies the key. An absent or empty
// attribute matches only universal keys.
func (m *matcher) match(e *dicomjson.Element) bool {
	if m.universal {
		return true
	}
	if e == nil || len(e.Value) == 0 {
		return false
	}
	kind := m.kind
	if kind == kindUnknownVR {
		kind = kindText
		if e.VR == "PN" {
			kind = kindPN
		}
	}
	for _, v := range e.Value {
		if m.matchOne(kind, dicomjson.ValueString(v)) {
			return true
		}
	}
	return false
}

func (m *matcher) matchOne(kind matchKind, v string) bool {
	v = strings.TrimRight(v, " \x00")
	switch kind {
	case kindUID:
		v = strings.TrimSpace(v)
		for _, a := range m.alts {
			if a == v {
				return true
			}
		}
	case kindDate, kindTime, kindDateTime:
		n, err := normBound(kind, strings.TrimSpace(v), false)
		if err != nil {
			return false
		}
		return (m.lo == "" || n >= m.lo) && (m.hi == "" || n <= m.hi)
	case kindNumber:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return false
		}
		for _, n := range m.nums {
			if n == f {
				return true
			}
		}
	case kindPN:
		toks := PNTokens(v)
		for _, a := range m.alts {
			if m.kind == kindUnknownVR { // PN only by the stored VR: fold now
				a = strings.ToUpper(normPN(a))
			}
			for _, t := range toks {
				if m.textMatch(a, t, true) {
					return true
				}
			}
		}
	default:
		v = strings.TrimLeft(v, " \x00")
		for _, a := range m.alts {
			if m.textMatch(a, v, false) {
				return true
			}
		}
	}
	return false
}

func (m *matcher) textMatch(pattern, v string, pn bool) bool {
	if hasWildcard(pattern) {
		return glob(pattern, v)
	}
	if pn && m.fuzzy {
		return strings.HasPrefix(v, pattern)
	}
	return pattern == v
}

// glob matches v against a DICOM wildcard pattern: '*' any run of
// characters (including none), '?' exactly one character. Runes, not bytes,
// so '?' matches one Chinese character.
func glob(pattern, v string) bool {
	p := []rune(pattern)
	s := []rune(v)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// normPN trims a PN value: surrounding spaces, and empty trailing
// components and groups ("Zhang^San^^" → "Zhang^San").
func normPN(s string) string {
	groups := strings.Split(strings.TrimSpace(s), "=")
	for i, g := range groups {
		groups[i] = strings.TrimRight(strings.TrimSpace(g), "^ ")
	}
	return strings.TrimRight(strings.Join(groups, "="), "=")
}

// PNTokens returns the upper-cased strings a PN matching key is compared
// against: the whole value ("A=I=P"), each group, each component of each
// group and each space-separated word of a component. A key matches a name
// when it matches any token, so "Zhang*", "ZHANG^SAN", "San" and "张*" all
// match "Zhang^San=张^三". Backends index exactly these tokens.
func PNTokens(v string) []string {
	v = strings.ToUpper(strings.ToValidUTF8(normPN(v), ""))
	if v == "" {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(t string) {
		t = strings.TrimSpace(t)
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	add(v)
	for _, g := range strings.Split(v, "=") {
		add(g)
		for _, c := range strings.Split(g, "^") {
			add(c)
			for _, w := range strings.Fields(c) {
				add(w)
			}
		}
	}
	return out
}

// literalPrefix returns the part of a pattern before its first wildcard.
func literalPrefix(p string) string {
	if i := strings.IndexAny(p, "*?"); i >= 0 {
		return p[:i]
	}
	return p
}

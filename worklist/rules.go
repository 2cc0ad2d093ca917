package worklist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Rules is a parsed, validated routing rules file (JSON):
//
//	{
//	  "timezone": "Asia/Shanghai",
//	  "default": {"group": "县医院影像科", "sla": "24h"},
//	  "sla": {"critical": "30m", "stat": "1h", "urgent": "4h", "routine": "24h"},
//	  "rules": [
//	    {"name": "ecg", "match": {"modality": ["ECG"]}, "group": "心电中心", "priority": "urgent", "sla": "30m"},
//	    {"name": "night head CT", "match": {"site": ["township-a"], "modality": ["CT"],
//	      "body_part": ["HEAD"], "exam_type": ["*卒中*"], "priority": ["stat", "critical"],
//	      "time": "22:00-08:00"}, "group": "急诊阅片组", "priority": "stat"}
//	  ]
//	}
//
// Rules are tried in order; the first whose every given match field matches
// wins (within a field any listed value matches; values compare
// case-insensitively and may use * and ? wildcards; "time" is a local
// time-of-day range in the file's timezone, wrapping past midnight). With
// no match the default applies. The routed priority is the higher of the
// requested one and the rule's; the SLA is the rule's, else the "sla" entry
// for that priority, else the default's.
type Rules struct {
	TimeZone string            `json:"timezone"`
	Default  DefaultRule       `json:"default"`
	SLA      map[string]string `json:"sla"`
	Rules    []Rule            `json:"rules"`

	loc *time.Location
	sla map[Priority]time.Duration
	def time.Duration
}

// DefaultRule routes everything no rule matched.
type DefaultRule struct {
	Group string `json:"group"`
	SLA   string `json:"sla"`
}

// Rule is one routing rule.
type Rule struct {
	Name     string `json:"name"`
	Match    Match  `json:"match"`
	Group    string `json:"group"`
	Priority string `json:"priority,omitempty"`
	SLA      string `json:"sla,omitempty"`

	prio     Priority
	sla      time.Duration
	from, to int // minutes of day; from == to == -1: any time
	reqPrios []Priority
}

// Match lists what a rule matches on; empty fields match anything.
type Match struct {
	Site     []string `json:"site,omitempty"`
	Modality []string `json:"modality,omitempty"`
	BodyPart []string `json:"body_part,omitempty"`
	ExamType []string `json:"exam_type,omitempty"`
	Priority []string `json:"priority,omitempty"`
	Time     string   `json:"time,omitempty"`
}

// Decision is where a task goes.
type Decision struct {
	Group    string
	Priority Priority
	SLA      time.Duration
	Rule     string // name of the matching rule, "default" if none
}

// RuleError is a validation failure with its position: Line/Column for
// syntax and type errors, Field (e.g. "rules[2].match.time") for semantic
// ones. It matches ErrInvalidRules.
type RuleError struct {
	File         string
	Line, Column int
	Field        string
	Msg          string
}

func (e *RuleError) Error() string {
	var b strings.Builder
	b.WriteString("routing rules")
	if e.File != "" {
		b.WriteString(" " + e.File)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	return b.String() + ": " + e.Msg
}

// Unwrap makes RuleError match ErrInvalidRules.
func (e *RuleError) Unwrap() error { return ErrInvalidRules }

// maxRulesBytes caps a rules file.
const maxRulesBytes = 1 << 20

func position(data []byte, off int64) (int, int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// ParseRules parses and validates a rules file; name is used in errors.
func ParseRules(name string, data []byte) (*Rules, error) {
	if len(data) > maxRulesBytes {
		return nil, &RuleError{File: name, Msg: fmt.Sprintf("file larger than %d bytes", maxRulesBytes)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Rules
	if err := dec.Decode(&r); err != nil {
		e := &RuleError{File: name, Msg: err.Error()}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			e.Line, e.Column = position(data, se.Offset-1) // Offset is just past the bad byte
		case errors.As(err, &te):
			e.Line, e.Column = position(data, te.Offset)
			e.Field, e.Msg = te.Field, fmt.Sprintf("expected %s, got JSON %s", te.Type, te.Value)
		case errors.Is(err, io.EOF):
			e.Msg = "empty file"
		default:
			e.Line, e.Column = position(data, dec.InputOffset())
		}
		return nil, e
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		l, c := position(data, dec.InputOffset())
		return nil, &RuleError{File: name, Line: l, Column: c, Msg: "unexpected data after the rules object"}
	}
	if err := r.validate(); err != nil {
		err.File = name
		return nil, err
	}
	return &r, nil
}

func parseDur(field, s string) (time.Duration, *RuleError) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, &RuleError{Field: field, Msg: fmt.Sprintf("%q is not a positive duration like 30m or 4h", s)}
	}
	return d, nil
}

func parseClock(s string) (int, bool) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

func (r *Rules) validate() *RuleError {
	tz := r.TimeZone
	if tz == "" {
		tz = "Asia/Shanghai"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		if tz != "Asia/Shanghai" {
			return &RuleError{Field: "timezone", Msg: fmt.Sprintf("unknown time zone %q", tz)}
		}
		loc = time.FixedZone("CST", 8*3600) // no tzdata installed; China has no DST
	}
	r.loc = loc
	if strings.TrimSpace(r.Default.Group) == "" {
		return &RuleError{Field: "default.group", Msg: "required: the group that receives everything no rule matches"}
	}
	r.def = 24 * time.Hour
	if r.Default.SLA != "" {
		var e *RuleError
		if r.def, e = parseDur("default.sla", r.Default.SLA); e != nil {
			return e
		}
	}
	r.sla = map[Priority]time.Duration{}
	for k, v := range r.SLA {
		p, err := ParsePriority(k)
		if err != nil {
			return &RuleError{Field: "sla." + k, Msg: err.Error()}
		}
		d, e := parseDur("sla."+k, v)
		if e != nil {
			return e
		}
		r.sla[p] = d
	}
	for i := range r.Rules {
		ru := &r.Rules[i]
		f := fmt.Sprintf("rules[%d]", i)
		if ru.Name != "" {
			f = fmt.Sprintf("rules[%d] (%s)", i, ru.Name)
		}
		if strings.TrimSpace(ru.Group) == "" {
			return &RuleError{Field: f + ".group", Msg: "required"}
		}
		if ru.Priority != "" {
			p, err := ParsePriority(ru.Priority)
			if err != nil {
				return &RuleError{Field: f + ".priority", Msg: err.Error()}
			}
			ru.prio = p
		}
		if ru.SLA != "" {
			var e *RuleError
			if ru.sla, e = parseDur(f+".sla", ru.SLA); e != nil {
				return e
			}
		}
		ru.from, ru.to = -1, -1
		if ru.Match.Time != "" {
			a, b, ok := strings.Cut(ru.Match.Time, "-")
			from, ok1 := parseClock(a)
			to, ok2 := parseClock(b)
			if !ok || !ok1 || !ok2 || from == to {
				return &RuleError{Field: f + ".match.time", Msg: fmt.Sprintf("%q is not a range like 08:00-17:30 or 22:00-08:00", ru.Match.Time)}
			}
			ru.from, ru.to = from, to
		}
		ru.reqPrios = nil
		for j, s := range ru.Match.Priority {
			p, err := ParsePriority(s)
			if err != nil {
				return &RuleError{Field: fmt.Sprintf("%s.match.priority[%d]", f, j), Msg: err.Error()}
			}
			ru.reqPrios = append(ru.reqPrios, p)
		}
		for field, pats := range map[string][]string{"site": ru.Match.Site, "modality": ru.Match.Modality, "body_part": ru.Match.BodyPart, "exam_type": ru.Match.ExamType} {
			for j, p := range pats {
				if _, err := path.Match(strings.ToLower(p), ""); err != nil || p == "" {
					return &RuleError{Field: fmt.Sprintf("%s.match.%s[%d]", f, field, j), Msg: fmt.Sprintf("bad pattern %q", p)}
				}
			}
		}
	}
	return nil
}

func matchAny(pats []string, v string) bool {
	if len(pats) == 0 {
		return true
	}
	v = strings.ToLower(v)
	for _, p := range pats {
		if ok, _ := path.Match(strings.ToLower(p), v); ok {
			return true
		}
	}
	return false
}

func (ru *Rule) matches(d Doc, minute int) bool {
	if !matchAny(ru.Match.Site, d.Site) || !matchAny(ru.Match.Modality, d.Modality) ||
		!matchAny(ru.Match.BodyPart, d.BodyPart) || !matchAny(ru.Match.ExamType, d.ExamType) {
		return false
	}
	if len(ru.reqPrios) > 0 && !containsPrio(ru.reqPrios, d.RequestedPriority) {
		return false
	}
	if ru.from >= 0 {
		if ru.from < ru.to {
			return minute >= ru.from && minute < ru.to
		}
		return minute >= ru.from || minute < ru.to
	}
	return true
}

func containsPrio(ps []Priority, p Priority) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

// Route decides group, priority and SLA for d arriving at time at.
func (r *Rules) Route(d Doc, at time.Time) Decision {
	lt := at.In(r.loc)
	minute := lt.Hour()*60 + lt.Minute()
	for i := range r.Rules {
		ru := &r.Rules[i]
		if !ru.matches(d, minute) {
			continue
		}
		p := max(d.RequestedPriority, ru.prio)
		sla := ru.sla
		if sla == 0 {
			sla = r.slaFor(p)
		}
		name := ru.Name
		if name == "" {
			name = fmt.Sprintf("rules[%d]", i)
		}
		return Decision{Group: ru.Group, Priority: p, SLA: sla, Rule: name}
	}
	return Decision{Group: r.Default.Group, Priority: d.RequestedPriority, SLA: r.slaFor(d.RequestedPriority), Rule: "default"}
}

func (r *Rules) slaFor(p Priority) time.Duration {
	if d, ok := r.sla[p]; ok {
		return d
	}
	return r.def
}

// DefaultRules routes everything to group with a 24 h SLA (critical 30 m,
// STAT 1 h, urgent 4 h).
func DefaultRules(group string) *Rules {
	r := &Rules{Default: DefaultRule{Group: group, SLA: "24h"}, SLA: map[string]string{"critical": "30m", "stat": "1h", "urgent": "4h"}}
	if err := r.validate(); err != nil {
		panic(err) // constant input
	}
	return r
}

// Router holds the current rules and reloads them from their file. Route
// is lock-free; Reload swaps the rules atomically, and a file that fails
// validation leaves the old rules in force.
type Router struct {
	file string
	log  *slog.Logger
	cur  atomic.Pointer[Rules]
	mu   sync.Mutex // serialises Reload
}

// OpenRouter loads and validates file. An empty file name gives a router
// with DefaultRules(defaultGroup) and nothing to reload.
func OpenRouter(file, defaultGroup string, log *slog.Logger) (*Router, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rt := &Router{file: file, log: log}
	if file == "" {
		rt.cur.Store(DefaultRules(defaultGroup))
		return rt, nil
	}
	if err := rt.Reload(); err != nil {
		return nil, err
	}
	return rt, nil
}

// NewRouter returns a router with fixed rules (tests, embedded use).
func NewRouter(r *Rules) *Router {
	rt := &Router{log: slog.New(slog.DiscardHandler)}
	rt.cur.Store(r)
	return rt
}

// Rules returns the rules in force.
func (rt *Router) Rules() *Rules { return rt.cur.Load() }

// Route routes with the rules in force.
func (rt *Router) Route(d Doc, at time.Time) Decision { return rt.cur.Load().Route(d, at) }

// Reload re-reads the file. On error (matching ErrInvalidRules for a bad
// file) the previous rules stay in force.
func (rt *Router) Reload() error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.file == "" {
		return nil
	}
	f, err := os.Open(rt.file)
	if err != nil {
		return fmt.Errorf("routing rules: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxRulesBytes+1))
	f.Close()
	if err != nil {
		return fmt.Errorf("routing rules %s: %w", rt.file, err)
	}
	r, err := ParseRules(rt.file, data)
	if err != nil {
		rt.log.Error("routing rules rejected; previous rules stay in force", "file", rt.file, "err", err)
		return err
	}
	rt.cur.Store(r)
	rt.log.Info("routing rules loaded", "file", rt.file, "rules", len(r.Rules))
	return nil
}

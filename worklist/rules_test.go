package worklist_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/huren-health/huren/worklist"
)

func loadRules(t *testing.T) *worklist.Rules {
	t.Helper()
	b, err := os.ReadFile("testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := worklist.ParseRules("rules.json", b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRoute(t *testing.T) {
	r := loadRules(t)
	cst := time.FixedZone("CST", 8*3600)
	day := time.Date(2026, 11, 23, 10, 0, 0, 0, cst)
	night := time.Date(2026, 11, 23, 23, 30, 0, 0, cst)
	early := time.Date(2026, 11, 24, 7, 59, 0, 0, cst)
	cases := []struct {
		name string
		doc  worklist.Doc
		at   time.Time
		want worklist.Decision
	}{
		{"ecg", worklist.Doc{Modality: "ecg", Site: "village-1"}, day, worklist.Decision{Group: "心电中心", Priority: worklist.Urgent, SLA: 30 * time.Minute, Rule: "ecg"}},
		{"critical ecg keeps its priority", worklist.Doc{Modality: "ECG", RequestedPriority: worklist.Critical}, day, worklist.Decision{Group: "心电中心", Priority: worklist.Critical, SLA: 30 * time.Minute, Rule: "ecg"}},
		{"head CT by night", worklist.Doc{Modality: "CT", BodyPart: "head", Site: "township-a"}, night, worklist.Decision{Group: "急诊阅片组", Priority: worklist.STAT, SLA: time.Hour, Rule: "night head CT"}},
		{"head CT before 08:00", worklist.Doc{Modality: "CT", BodyPart: "HEAD", Site: "township-b"}, early, worklist.Decision{Group: "急诊阅片组", Priority: worklist.STAT, SLA: time.Hour, Rule: "night head CT"}},
		{"head CT by day", worklist.Doc{Modality: "CT", BodyPart: "HEAD", Site: "township-a"}, day, worklist.Decision{Group: "县医院影像科", Priority: worklist.Routine, SLA: 24 * time.Hour, Rule: "default"}},
		{"head CT from the county by night", worklist.Doc{Modality: "CT", BodyPart: "HEAD", Site: "county"}, night, worklist.Decision{Group: "县医院影像科", Priority: worklist.Routine, SLA: 24 * time.Hour, Rule: "default"}},
		{"stroke stat", worklist.Doc{Modality: "MR", ExamType: "头颅MR 脑卒中", RequestedPriority: worklist.STAT}, day, worklist.Decision{Group: "急诊阅片组", Priority: worklist.STAT, SLA: time.Hour, Rule: "stroke"}},
		{"stroke routine", worklist.Doc{Modality: "MR", ExamType: "脑卒中随访"}, day, worklist.Decision{Group: "县医院影像科", Priority: worklist.Routine, SLA: 24 * time.Hour, Rule: "default"}},
		{"urgent default", worklist.Doc{Modality: "DX", RequestedPriority: worklist.Urgent}, day, worklist.Decision{Group: "县医院影像科", Priority: worklist.Urgent, SLA: 4 * time.Hour, Rule: "default"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Route(tc.doc, tc.at); got != tc.want {
				t.Fatalf("Route = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseRulesErrors(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"syntax", "{\n  \"default\": {\"group\": \"x\"},\n  \"rules\": [ ,]\n}", "rules.json:3:14"},
		{"unknown field", `{"default": {"group": "x"}, "rulez": []}`, `unknown field "rulez"`},
		{"type", "{\"default\": {\"group\": 5}}", "default.group: expected string"},
		{"no default group", `{"rules": []}`, "default.group: required"},
		{"bad sla", `{"default": {"group": "x", "sla": "soon"}}`, "default.sla"},
		{"bad priority", `{"default": {"group": "x"}, "rules": [{"name": "a", "group": "g", "priority": "asap"}]}`, "rules[0] (a).priority"},
		{"bad time", `{"default": {"group": "x"}, "rules": [{"group": "g", "match": {"time": "8-17"}}]}`, "rules[0].match.time"},
		{"missing group", `{"default": {"group": "x"}, "rules": [{"group": "g"}, {"match": {"modality": ["CT"]}}]}`, "rules[1].group: required"},
		{"bad pattern", `{"default": {"group": "x"}, "rules": [{"group": "g", "match": {"modality": ["[CT"]}}]}`, "rules[0].match.modality[0]"},
		{"bad tz", `{"timezone": "Mars/Olympus", "default": {"group": "x"}}`, "timezone"},
		{"bad sla key", `{"default": {"group": "x"}, "sla": {"asap": "1h"}}`, "sla.asap"},
		{"trailing", `{"default": {"group": "x"}} {}`, "unexpected data"},
		{"empty", ``, "empty file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := worklist.ParseRules("rules.json", []byte(tc.in))
			if err == nil || !errors.Is(err, worklist.ErrInvalidRules) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrInvalidRules mentioning %q", err, tc.want)
			}
		})
	}
}

func TestRouterReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.json")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"default": {"group": "a"}}`)
	rt, err := worklist.OpenRouter(file, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := rt.Route(worklist.Doc{}, time.Now()).Group; g != "a" {
		t.Fatalf("group %s", g)
	}
	write(`{"default": {"group": "b"}}`)
	if err := rt.Reload(); err != nil {
		t.Fatal(err)
	}
	if g := rt.Route(worklist.Doc{}, time.Now()).Group; g != "b" {
		t.Fatalf("after reload group %s", g)
	}
	write(`{"default": {}}`)
	if err := rt.Reload(); !errors.Is(err, worklist.ErrInvalidRules) {
		t.Fatalf("bad reload: %v", err)
	}
	if g := rt.Route(worklist.Doc{}, time.Now()).Group; g != "b" {
		t.Fatalf("a rejected file replaced the rules: group %s", g)
	}
	if _, err := worklist.OpenRouter(file, "", nil); !errors.Is(err, worklist.ErrInvalidRules) {
		t.Fatalf("open with a bad file: %v", err)
	}
	def, err := worklist.OpenRouter("", "县医院影像科", nil)
	if err != nil || def.Route(worklist.Doc{}, time.Now()).Group != "县医院影像科" {
		t.Fatalf("default router: %v", err)
	}
}

func FuzzParseRules(f *testing.F) {
	b, err := os.ReadFile("testdata/rules.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"default": {"group": "x"}, "rules": [{"group": "g", "match": {"time": "23:59-00:00"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := worklist.ParseRules("fuzz", data)
		if err != nil {
			if !errors.Is(err, worklist.ErrInvalidRules) {
				t.Fatalf("error not ErrInvalidRules: %v", err)
			}
			return
		}
		d := r.Route(worklist.Doc{Modality: "CT", Site: "s", RequestedPriority: worklist.STAT}, time.Now())
		if d.Group == "" || d.SLA <= 0 || !d.Priority.Valid() {
			t.Fatalf("valid rules gave decision %+v", d)
		}
	})
}

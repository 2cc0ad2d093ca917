package ecgcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAnalyzeTable(t *testing.T) {
	var out, errb bytes.Buffer
	if err := Main(context.Background(), []string{"analyze", "../dicomwave/testdata/waveform_ecg.dcm"}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	for _, want := range []string{"Heart rate", "QRS", "sinus rhythm", "Critical flags", "Device QRS Duration"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestAnalyzeJSONWFDBAndImages(t *testing.T) {
	dir := t.TempDir()
	svg, png := filepath.Join(dir, "a.svg"), filepath.Join(dir, "a.png")
	var out, errb bytes.Buffer
	err := Main(context.Background(), []string{"analyze", "--json", "../wfdb/testdata/100s", "--svg", svg, "--png", png}, &out, &errb)
	if err != nil {
		t.Fatal(err, errb.String())
	}
	var v struct {
		FS           float64          `json:"fs"`
		Beats        []int            `json:"beats"`
		Measurements map[string]any   `json:"measurements"`
		Flags        []map[string]any `json:"flags"`
	}
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	// MIT-BIH 100, first 10 s: 12 reference beats (oracle first_beat_samples).
	if v.FS != 360 || len(v.Beats) < 11 || len(v.Beats) > 13 || v.Measurements == nil || v.Flags == nil {
		t.Errorf("fs %v beats %d measurements %v flags %v", v.FS, len(v.Beats), v.Measurements != nil, v.Flags)
	}
	for _, p := range []string{svg, png} {
		if st, err := os.Stat(p); err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	var out, errb bytes.Buffer
	for _, args := range [][]string{{}, {"frobnicate"}, {"analyze"}, {"analyze", "a", "b"}, {"analyze", "--speed", "30", "../wfdb/testdata/100s", "--svg", filepath.Join(t.TempDir(), "x.svg")}} {
		if err := Main(context.Background(), args, &out, &errb); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	err := Main(context.Background(), []string{"analyze", "/nonexistent/file"}, &out, &errb)
	if err == nil || errors.Is(err, ErrUsage) {
		t.Errorf("missing file: %v", err)
	}
}

func TestProvinceRulesFlag(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "p.json")
	os.WriteFile(rules, []byte(`{"name":"test-province","version":"9","rules":[{"id":"hr-over-50","tier":"major","kind":"threshold","title":"HR > 50","measure":"hr_bpm","op":">","value":50}]}`), 0o644)
	var out, errb bytes.Buffer
	if err := Main(context.Background(), []string{"analyze", "../dicomwave/testdata/waveform_ecg.dcm", "--json", "--rules", rules}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"rule": "hr-over-50"`) || !strings.Contains(out.String(), `"table_version": "9"`) {
		t.Errorf("province rule did not fire:\n%s", out.String()[:min(2000, out.Len())])
	}
}

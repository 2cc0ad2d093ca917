package dicomweb

import (
	"errors"
	"testing"
)

func TestNegotiate(t *testing.T) {
	const ele = "1.2.840.10008.1.2.1"
	stored := []string{ele}
	cases := []struct {
		accept    string
		json, dcm bool
		bulk      string // "multi", "raw" or "406"
	}{
		{"", true, true, "multi"},
		{"*/*", true, true, "multi"},
		{"application/dicom+json", true, false, "406"},
		{"application/json, text/plain;q=0.5", true, false, "406"},
		{"application/dicom+xml", false, false, "406"},
		{`multipart/related; type="application/dicom"`, false, true, "406"},
		{"multipart/related; type=application/dicom; transfer-syntax=*", false, true, "406"},
		{`multipart/related; type="application/dicom"; transfer-syntax=` + ele, false, true, "406"},
		{`multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50`, false, false, "406"},
		{`multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50, multipart/related; type="application/dicom"; transfer-syntax=*;q=0.5`, false, true, "406"},
		{"multipart/related; type=application/octet-stream; transfer-syntax=*", false, false, "multi"},
		{"application/octet-stream", false, false, "raw"},
		{"application/dicom+json;q=0", false, false, "406"},
	}
	for _, tc := range cases {
		acc := []string{tc.accept}
		if tc.accept == "" {
			acc = nil
		}
		if err := negotiateJSON(acc); (err == nil) != tc.json {
			t.Errorf("%q: negotiateJSON err=%v", tc.accept, err)
		} else if err != nil && !errors.Is(err, ErrNotAcceptable) {
			t.Errorf("%q: wrong error %v", tc.accept, err)
		}
		if err := negotiateInstances(acc, stored); (err == nil) != tc.dcm {
			t.Errorf("%q: negotiateInstances err=%v", tc.accept, err)
		}
		multi, err := negotiateBulk(acc)
		got := "raw"
		switch {
		case err != nil:
			got = "406"
		case multi:
			got = "multi"
		}
		if got != tc.bulk {
			t.Errorf("%q: negotiateBulk %s, want %s (%v)", tc.accept, got, tc.bulk, err)
		}
	}
}

func TestParseMediaRange(t *testing.T) {
	typ, params, ok := parseMediaRange(`Multipart/Related; Type="application/dicom"; transfer-syntax=*; q=0.8`)
	if !ok || typ != "multipart/related" || params["type"] != "application/dicom" || params["transfer-syntax"] != "*" || params["q"] != "0.8" {
		t.Fatalf("%q %v %v", typ, params, ok)
	}
	if _, _, ok := parseMediaRange("garbage"); ok {
		t.Fatal("garbage parsed")
	}
	got := parseAccept([]string{`a/b;q=0.1, multipart/related; type="x,y"; q=0.9, c/d`})
	// Ordered by q, the client's order breaking ties; quoted commas kept.
	if len(got) != 3 || got[0].typ != "c/d" || got[1].typ != "multipart/related" || got[1].params["type"] != "x,y" || got[2].typ != "a/b" {
		t.Fatalf("%+v", got)
	}
}

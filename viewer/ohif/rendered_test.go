package ohif

import "testing"

func TestRendered(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stats []canvasStat
		want  bool
	}{
		{"none", nil, false},
		{"blank viewport", []canvasStat{{W: 1100, H: 700, Lit: 0, Levels: 1}}, false},
		{"uniform grey viewport", []canvasStat{{W: 1100, H: 700, Lit: 770000, Levels: 1}}, false},
		{"few lit pixels", []canvasStat{{W: 1100, H: 700, Lit: 1000, Levels: 200}}, false},
		{"thumbnail only", []canvasStat{{W: 256, H: 256, Lit: 60000, Levels: 248}, {W: 1100, H: 700}}, false},
		{"image", []canvasStat{{W: 256, H: 256, Lit: 60000, Levels: 248}, {W: 1115, H: 699, Lit: 460513, Levels: 252}}, true},
		{"unreadable canvas", []canvasStat{{W: 1100, H: 700, Err: "no 2d context"}}, false},
	} {
		if got := rendered(tc.stats); got != tc.want {
			t.Errorf("%s: rendered(%+v) = %v, want %v", tc.name, tc.stats, got, tc.want)
		}
	}
}

func TestRequestKind(t *testing.T) {
	const s = "http://h/dicom-web/studies/1.2"
	for _, tc := range []struct{ url, method, want string }{
		{"http://h/dicom-web/studies?limit=101", "GET", "qido"},
		{s + "/series?includefield=x", "GET", "qido"},
		{s + "/series/3/metadata", "GET", "metadata"},
		{s + "/series/3/instances/4/frames/1", "GET", "frames"},
		{s + "/series/3/instances/4/rendered", "GET", "rendered"},
		{s + "/series/3/thumbnail", "GET", "rendered"},
		{s + "/series/3/instances/4/frames/1", "OPTIONS", "preflight"},
		{s + "/series/3/instances/4", "GET", "other"},
	} {
		if got := requestKind(tc.url, tc.method); got != tc.want {
			t.Errorf("requestKind(%s %s) = %q, want %q", tc.method, tc.url, got, tc.want)
		}
	}
}

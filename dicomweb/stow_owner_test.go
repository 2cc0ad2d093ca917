package dicomweb_test

import (
	"bytes"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// TestStowIntoAnotherSitesStudy: instances may be added to an existing
// study only by a site that already contributed to it; for any other site
// the study answers 404 exactly like a missing one (no UID probing).
func TestStowIntoAnotherSitesStudy(t *testing.T) { forEachBackend(t, testStowIntoAnotherSitesStudy) }

func testStowIntoAnotherSitesStudy(t *testing.T, b backends) {
	e := newEnv(t, b, 0)
	files := seriesFiles(t)
	first, second := readFile(t, files[0]), readFile(t, files[1])
	post := func(path, site string, data []byte) int {
		ct, body := multipartBody(t, []part{dcm(data)})
		return e.do("POST", path, map[string]string{"Content-Type": ct, "X-Test-Site": site}, bytes.NewReader(body)).Code
	}
	if code := post("/dicom-web/studies", "town-a", first); code != http.StatusOK {
		t.Fatalf("first upload: %d", code)
	}
	studies := qido(t, e, "/dicom-web/studies")
	if len(studies) != 1 {
		t.Fatalf("QIDO: %d studies, want 1", len(studies))
	}
	study := str(studies[0], "0020000D")
	if code := post("/dicom-web/studies/"+study, "town-b", second); code != http.StatusNotFound {
		t.Errorf("another site adding to the study: %d, want 404", code)
	}
	if code := post("/dicom-web/studies/"+study, "town-a", second); code != http.StatusOK {
		t.Errorf("the contributing site adding to its study: %d, want 200", code)
	}
}

// TestStowStudyUIDInjection (issue 14, finding 1): an instance of another
// site carrying an existing study's UID is refused on both STOW forms —
// plain POST /studies (multipart and a single application/dicom body) and
// POST /studies/{study} — with an answer that names nothing of the owner,
// and the owner's study answers exactly as before.
func TestStowStudyUIDInjection(t *testing.T) { forEachBackend(t, testStowStudyUIDInjection) }

func testStowStudyUIDInjection(t *testing.T, b backends) {
	e := newEnv(t, b, 0)
	files := seriesFiles(t)
	const patient = "Test^Regression"
	ct, body := multipartBody(t, []part{dcm(readFile(t, files[0]))})
	if rec := e.do("POST", "/dicom-web/studies", map[string]string{"Content-Type": ct, "X-Test-Site": "town-b"}, bytes.NewReader(body)); rec.Code != http.StatusOK {
		t.Fatalf("owner's upload: %d %s", rec.Code, rec.Body.String())
	}
	e.sites = []string{"town-b"}
	before := qido(t, e, "/dicom-web/studies?includefield=all")
	if len(before) != 1 {
		t.Fatalf("owner sees %d studies", len(before))
	}
	study := str(before[0], "0020000D")
	// Another instance of the same study and series, another patient.
	evil := bytes.ReplaceAll(readFile(t, files[1]), []byte(patient), []byte("EVIL^ATTACKER^X"))
	mct, mbody := multipartBody(t, []part{dcm(evil)})
	for _, tc := range []struct {
		name, path, ct string
		body           []byte
		want           int
	}{
		{"multipart to /studies", "/dicom-web/studies", mct, mbody, http.StatusConflict},
		{"single body to /studies", "/dicom-web/studies", "application/dicom", evil, http.StatusConflict},
		{"multipart to /studies/{study}", "/dicom-web/studies/" + study, mct, mbody, http.StatusNotFound},
	} {
		rec := e.do("POST", tc.path, map[string]string{"Content-Type": tc.ct, "X-Test-Site": "town-a"}, bytes.NewReader(tc.body))
		if rec.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body.String(), tc.want)
		}
		for _, secret := range []string{"town-b", patient, "1.2.840.113619.2.408.5282380.4562341.27283.1537222031.342"} {
			if strings.Contains(rec.Body.String(), secret) {
				t.Errorf("%s: answer reveals %q: %s", tc.name, secret, rec.Body.String())
			}
		}
	}
	e.sites = []string{"town-b"}
	if after := qido(t, e, "/dicom-web/studies?includefield=all"); !reflect.DeepEqual(after, before) {
		t.Errorf("the owner's study changed:\n%v\nwas\n%v", after, before)
	}
	e.sites = []string{"town-a"}
	if got := qido(t, e, "/dicom-web/studies"); len(got) != 0 {
		t.Errorf("the refused site sees %d studies", len(got))
	}
	// Still refused on the study's own URL afterwards.
	rec := e.do("POST", "/dicom-web/studies/"+study, map[string]string{"Content-Type": mct, "X-Test-Site": "town-a"}, bytes.NewReader(mbody))
	if rec.Code != http.StatusNotFound {
		t.Errorf("POST /studies/{study} after the attempts: %d", rec.Code)
	}
}

package dicomweb_test

import (
	"bytes"
	"net/http"
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

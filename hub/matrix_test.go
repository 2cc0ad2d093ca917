package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/huren-health/huren/auth"
	"github.com/huren-health/huren/auth/authtest"
)

// seeded is one site's data in the matrix world: a study and an ECG.
type seeded struct {
	study, series, instance, ecg string
}

// TestAuthorizationMatrix runs auth/matrix.tsv against the fully assembled
// hub: every route the hub serves must have a row (unknown routes fail),
// and every role × own/other site gets exactly the outcome in the table.
func TestAuthorizationMatrix(t *testing.T) {
	srv, err := open(context.Background(), embeddedConfig(t), quietLog(), io.Discard,
		openOptions{argon2: auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rows, err := authtest.LoadTable("../auth/matrix.tsv")
	if err != nil {
		t.Fatal(err)
	}
	authtest.CheckRoutes(t, srv.Engine(), rows, true)

	world := authtest.NewWorld(t, srv.Auth())
	own := seed(t, srv, authtest.OwnSite, testFile)
	other := seed(t, srv, authtest.OtherSite, "../ingest/testdata/charset/chrX1.dcm")
	params := func(route string, isOwn bool) map[string]string {
		p := world.Params(route, isOwn)
		d := other
		if isOwn {
			d = own
		}
		p["study"], p["series"], p["instance"], p["frames"], p["id"] = d.study, d.series, d.instance, "1", d.ecg
		p["tagpath"] = "7FE00010"
		return p
	}
	authtest.Matrix(t, authtest.Env{
		Engine:    srv.Handler(),
		Authorize: world.Authorize,
		Params:    params,
		Body:      world.Body,
	}, rows)

	// The searches the table marks "all" must return nothing of the other
	// site's study — the same empty list as for a UID that does not exist.
	_, reader, err := srv.Auth().CreateToken(context.Background(), auth.NewToken{Name: "reader-a",
		Site: authtest.OwnSite, Capabilities: []auth.Capability{auth.CapRead}})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/dicom-web/studies/" + other.study + "/series",
		"/dicom-web/studies/" + other.study + "/instances",
		"/dicom-web/studies/" + other.study + "/series/" + other.series + "/instances",
		"/dicom-web/studies/1.2.3.4.5.999/series",
	} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+reader)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || bytes.TrimSpace(rec.Body.Bytes()) == nil || string(bytes.TrimSpace(rec.Body.Bytes())) != "[]" {
			t.Errorf("GET %s as town-a reader: %d %s, want 200 []", path, rec.Code, rec.Body.String())
		}
	}
}

// seed uploads a DICOM file and an ECG as an upload token of site.
func seed(t *testing.T, srv *Server, site, dicomFile string) seeded {
	t.Helper()
	_, secret, err := srv.Auth().CreateToken(context.Background(), auth.NewToken{Name: "seed-" + site, Site: site,
		Capabilities: []auth.Capability{auth.CapUpload}})
	if err != nil {
		t.Fatal(err)
	}
	post := func(path, ctype, file string) map[string]any {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("POST", path, bytes.NewReader(data))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer "+secret)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("seed %s at %s: %d %s", file, site, rec.Code, rec.Body.String())
		}
		var v map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	stow := post("/dicom-web/studies", "application/dicom", dicomFile)
	ref := stow["00081199"].(map[string]any)["Value"].([]any)[0].(map[string]any)
	url := ref["00081190"].(map[string]any)["Value"].([]any)[0].(string)
	var d seeded
	// …/studies/{study}/series/{series}/instances/{instance}
	parts := bytes.Split([]byte(url), []byte("/"))
	n := len(parts)
	d.study, d.series, d.instance = string(parts[n-5]), string(parts[n-3]), string(parts[n-1])
	ecg := post("/api/ecg", "application/xml", "../ecg/aecg/testdata/Example_aECG.xml")
	id, _ := ecg["id"].(string)
	if id == "" {
		t.Fatalf("seed ECG: no id in %v", ecg)
	}
	d.ecg = id
	return d
}

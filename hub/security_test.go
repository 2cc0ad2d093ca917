package hub

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/huren-health/huren/auth"
)

var fastArgon = openOptions{argon2: auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1}}

// TestCrossSiteWritesRefused (issue 14, findings 1–3) probes the assembled
// hub as town-a attacking town-b and the other way round: a study-UID
// injection through plain STOW, completing the victim's study, reusing a
// victim's SOP Instance UID, and hijacking the reading task of another
// site's ECG. Every attempt is refused without naming anything of the
// victim, and the victim's study and task are unchanged.
func TestCrossSiteWritesRefused(t *testing.T) {
	ctx := context.Background()
	cfg := embeddedConfig(t)
	cfg.RoutingRules = filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(cfg.RoutingRules, []byte(matrixRules), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := open(ctx, cfg, quietLog(), io.Discard, fastArgon)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, id := range []string{"town-a", "town-b"} {
		if _, err := srv.Auth().AddSite(ctx, auth.Site{ID: id, Name: id, Kind: auth.Township, Parent: "county"}); err != nil {
			t.Fatal(err)
		}
	}
	a := seed(t, srv, "town-a", testFile)
	b := seed(t, srv, "town-b", "../ingest/testdata/charset/chrX1.dcm")
	victimBefore := studyAs(t, srv, b)
	send := func(method, path, token, ctype string, body []byte) (int, string) {
		t.Helper()
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	noLeak := func(what, body string, secrets ...string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("%s: the answer reveals %q: %s", what, s, body)
			}
		}
	}

	// Finding 1: town-b's study UID in a new instance, posted by town-a to
	// plain /studies, then to /studies/{study}.
	inject := newInstance(t, b)
	code, body := send("POST", "/dicom-web/studies", a.token, "application/dicom", inject)
	if code != http.StatusConflict {
		t.Errorf("injection through POST /studies: %d %s, want 409", code, body)
	}
	noLeak("injection", body, "town-b", b.series)
	if code, body := send("POST", "/dicom-web/studies/"+b.study, a.token, "application/dicom", inject); code != http.StatusNotFound {
		t.Errorf("POST /studies/{victim}: %d %s, want 404", code, body)
	}
	if code, body := send("POST", "/api/worklist/studies/"+b.study+"/complete", a.token, "application/json", nil); code != http.StatusNotFound {
		t.Errorf("completing the victim's study: %d %s, want 404", code, body)
	}
	if after := studyAs(t, srv, b); after != victimBefore {
		t.Errorf("the victim's study changed:\n%s\nwas\n%s", after, victimBefore)
	}

	// Finding 2: town-b's SOP Instance UID in town-a's own new study.
	data, err := os.ReadFile(b.file)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(uid string) string { return uid[:len(uid)-1] + string(rune((uid[len(uid)-1]-'0'+7)%10+'0')) }
	reuse := bytes.ReplaceAll(bytes.ReplaceAll(data, []byte(b.study), []byte(flip(b.study))), []byte(b.series), []byte(flip(b.series)))
	code, body = send("POST", "/dicom-web/studies", a.token, "application/dicom", reuse)
	if code != http.StatusConflict {
		t.Errorf("reusing the victim's SOP Instance UID: %d %s, want 409", code, body)
	}
	noLeak("SOP Instance UID reuse", body, b.study, b.series, "town-b")

	// Finding 3: town-b asks for a task of town-a's ECG, claiming it.
	hijack := `{"id": "` + a.ecg + `", "site": "town-b", "patient_id": "FAKE", "priority": "critical"}`
	if code, body := send("POST", "/api/worklist/ecg", b.token, "application/json", []byte(hijack)); code != http.StatusBadRequest {
		t.Errorf("ECG task with a site and patient in the body: %d %s, want 400", code, body)
	}
	codeForeign, foreign := send("POST", "/api/worklist/ecg", b.token, "application/json", []byte(`{"id": "`+a.ecg+`"}`))
	const unknown = "0b0e7c5e-4a8e-4d0c-9a53-5d8f00000000"
	codeUnknown, missing := send("POST", "/api/worklist/ecg", b.token, "application/json", []byte(`{"id": "`+unknown+`"}`))
	if codeForeign != http.StatusNotFound || codeUnknown != http.StatusNotFound {
		t.Errorf("another site's ECG: %d %s; unknown ECG: %d %s; want 404 both", codeForeign, foreign, codeUnknown, missing)
	}
	// Alike but for the id (and the request id).
	strip := func(s, id string) string {
		s = strings.ReplaceAll(s, id, "ID")
		if i := strings.Index(s, `"request_id"`); i >= 0 {
			s = s[:i]
		}
		return s
	}
	if strip(foreign, a.ecg) != strip(missing, unknown) {
		t.Errorf("another site's ECG answers unlike a missing one:\n%s\n%s", foreign, missing)
	}
	code, body = send("POST", "/api/worklist/ecg", a.token, "application/json", []byte(`{"id": "`+a.ecg+`"}`))
	if code != http.StatusOK || !strings.Contains(body, `"site":"town-a"`) || strings.Contains(body, "FAKE") {
		t.Errorf("the ECG's own site retrying its task: %d %s", code, body)
	}
}

// TestDemoCompletesAfterInterruptedStart (issue 14, finding 11): a first
// `serve --demo` killed after it created the demo site, before its
// accounts and token, is completed by the next start; a complete demo
// world is left alone and nothing is printed again.
func TestDemoCompletesAfterInterruptedStart(t *testing.T) {
	ctx := context.Background()
	cfg := embeddedConfig(t)
	srv, err := open(ctx, cfg, quietLog(), io.Discard, fastArgon)
	if err != nil {
		t.Fatal(err)
	}
	// What the interrupted start left: the demo site and nothing else.
	if _, err := srv.Auth().AddSite(ctx, auth.Site{ID: DemoSite, Name: "demo", Kind: auth.Township, Parent: "county"}); err != nil {
		t.Fatal(err)
	}
	srv.Close()

	cfg.Demo = true
	var out bytes.Buffer
	if srv, err = open(ctx, cfg, quietLog(), &out, fastArgon); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"tech", "reader", "senior", "doctor"} {
		if _, err := srv.Auth().User(user); err != nil {
			t.Errorf("demo account %s missing after the second start: %v", user, err)
		}
		if !strings.Contains(out.String(), user+" ") {
			t.Errorf("the credentials of %s were not printed: %s", user, out.String())
		}
	}
	tokens, err := srv.Auth().Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, tk := range tokens {
		if tk.Name == demoToken && tk.Active {
			n++
		}
	}
	if n != 1 || !strings.Contains(out.String(), "hrn_") {
		t.Errorf("%d demo tokens, printed: %s", n, out.String())
	}
	srv.Close()

	out.Reset()
	if srv, err = open(ctx, cfg, quietLog(), &out, fastArgon); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if strings.Contains(out.String(), "Demo accounts") || strings.Contains(out.String(), "hrn_") {
		t.Errorf("a complete demo world was set up again: %s", out.String())
	}
	if tokens, err = srv.Auth().Tokens(ctx); err != nil || len(tokens) != 1 {
		t.Errorf("%d tokens after the third start (%v), want the one demo token", len(tokens), err)
	}
}

package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/errkind"
	"github.com/huren-health/huren/httpapi"
	"github.com/huren-health/huren/worklist"
	"github.com/huren-health/huren/worklist/api"
	"github.com/huren-health/huren/worklist/memory"
)

// uploaderHeader names the site a test caller may upload for (what the
// accounts service decides in the hub).
const uploaderHeader = "X-Test-Upload-Site"

// TestSiteKeyedSubmissions: with Config.Authorize, study completion and ECG
// submission are authorized by the study's / ECG's site (another site's is
// 404), without consulting Identity; the study signal is idempotent.
func TestSiteKeyedSubmissions(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	q := memory.New(worklist.Config{Lease: time.Minute})
	rules := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(rules, []byte(`{"default": {"group": "ct"}, "rules": [{"match": {"modality": ["ECG"]}, "group": "ecg"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	rt, err := worklist.OpenRouter(rules, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := worklist.NewTracker(worklist.TrackerConfig{Queue: q, Router: rt, Quiet: time.Hour})
	studySites := map[string][]string{"1.2.3.1": {"v1"}}
	var authorized []string
	h := api.New(api.Config{Queue: q, Tracker: tr, Router: rt, DevHeaders: true,
		Authorize: func(c *gin.Context, action, site string) error {
			authorized = append(authorized, action+"@"+site)
			mine := c.GetHeader(uploaderHeader)
			if mine == "" || site != "" && site != mine {
				return errkind.New(errkind.Forbidden, "not an uploader of "+site)
			}
			return nil
		},
		StudySites: func(_ context.Context, study string) ([]string, error) {
			if s, ok := studySites[study]; ok {
				return s, nil
			}
			return nil, fmt.Errorf("study %s: %w", study, worklist.ErrNotFound)
		},
		ECG: func(_ context.Context, id string) (worklist.ECG, error) {
			if id == "e1" {
				return worklist.ECG{ID: id, Site: "v1", PatientID: "P1", PatientName: "Li^Lei", ExamType: "12-lead ECG", Priority: worklist.Routine}, nil
			}
			return worklist.ECG{}, fmt.Errorf("ecg %s: %w", id, worklist.ErrNotFound)
		},
		Who: func(c *gin.Context) string { return "device@" + c.GetHeader(uploaderHeader) }})
	e := gin.New()
	e.Use(httpapi.RequestIDs())
	h.Register(e.Group("/api/worklist"))
	t.Cleanup(func() { _ = tr.Close(context.Background()); _ = q.Close() })
	do := func(site, method, path, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, "/api/worklist"+path, strings.NewReader(body))
		if site != "" {
			req.Header.Set(uploaderHeader, site)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		var m map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &m)
		return rec.Code, m
	}
	if err := tr.Observe(worklist.Stored{StudyUID: "1.2.3.1", SeriesUID: "1.2.3.1.1", InstanceUID: "1.2.3.1.1.1", Site: "v1", Modality: "CT"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, site, method, path, body string
		want                           int
	}{
		// Site, patient and priority come from the stored ECG, never the
		// body (issue 14, finding 3: another site's ECG hijacked).
		{"another site's ECG", "v2", "POST", "/ecg", `{"id": "e1"}`, 404},
		{"another site's ECG, body claiming it", "v2", "POST", "/ecg", `{"id": "e1", "site": "v2", "patient_id": "FAKE", "priority": "critical"}`, 400},
		{"unknown ECG", "v2", "POST", "/ecg", `{"id": "e9"}`, 404},
		{"ECG by a non-uploader", "", "POST", "/ecg", `{"id": "e1"}`, 403},
		{"ECG without id", "v1", "POST", "/ecg", `{}`, 400},
		{"own ECG", "v1", "POST", "/ecg", `{"id": "e1"}`, 200},
		{"another site's study", "v2", "POST", "/studies/1.2.3.1/complete", "", 404},
		{"study by a non-uploader", "", "POST", "/studies/1.2.3.1/complete", "", 403},
		{"unknown study", "v1", "POST", "/studies/9.9/complete", "", 404},
		{"own study", "v1", "POST", "/studies/1.2.3.1/complete", "", 200},
		{"own study again (idempotent)", "v1", "POST", "/studies/1.2.3.1/complete", "", 200},
	} {
		if code, m := do(tc.site, tc.method, tc.path, tc.body); code != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.name, code, m, tc.want)
		} else if code == 200 && (m["site"] != "v1" || m["id"] == "") {
			t.Errorf("%s: task %v", tc.name, m)
		} else if code == 200 && tc.path == "/ecg" && (m["patient_id"] != "P1" || m["priority"] != "routine") {
			t.Errorf("%s: task %v does not describe the stored ECG", tc.name, m)
		} else if code == 200 && tc.path == "/ecg" {
			// The task's event names the caller, not the engine.
			task, err := q.Get(context.Background(), m["id"].(string))
			if err != nil || len(task.History) == 0 || task.History[len(task.History)-1].Actor != "device@v1" {
				t.Errorf("%s: task history %+v (%v) does not name the caller", tc.name, task.History, err)
			}
		}
	}
	if !strings.Contains(strings.Join(authorized, " "), "study.complete@v1") ||
		!strings.Contains(strings.Join(authorized, " "), "ecg.submit@v1") {
		t.Errorf("Authorize calls %v lack the named sites", authorized)
	}
}

// TestAdminsDoNotClaim: an administrator sees and reassigns any task but
// claims only in the groups it reads for; a reader outside the task's
// group gets 404 for every task operation.
func TestAdminsDoNotClaim(t *testing.T) {
	e := newEnv(t, true, time.Hour)
	if code, m := e.do(t, alice, "POST", "/ecg", `{"id": "e1", "site": "v1"}`); code != 200 {
		t.Fatalf("submit: %d %v", code, m)
	}
	code, m := e.do(t, boss, "GET", "/tasks?group=ecg", "")
	if code != 200 || m["total"].(float64) != 1 {
		t.Fatalf("admin list: %d %v", code, m)
	}
	id := m["tasks"].([]any)[0].(map[string]any)["id"].(string)
	for _, tc := range []struct {
		who          who
		method, path string
		body         string
		want         int
	}{
		{boss, "POST", "/tasks/" + id + "/claim", "", 403},
		{boss, "POST", "/groups/ecg/claim-next", "", 403},
		{boss, "POST", "/tasks/" + id + "/renew", `{"token": "x"}`, 403},
		{bob, "POST", "/tasks/" + id + "/claim", "", 404},
		{bob, "POST", "/tasks/" + id + "/renew", `{"token": "x"}`, 404},
		{bob, "POST", "/tasks/" + id + "/release", `{"token": "x"}`, 404},
		{bob, "POST", "/tasks/" + id + "/complete", `{"token": "x"}`, 404},
		{bob, "POST", "/tasks/" + id + "/reassign", `{"group": "ct"}`, 404},
		{bob, "POST", "/tasks/" + id + "/cancel", `{"reason": "x"}`, 404},
		{alice, "POST", "/tasks/" + id + "/cancel", `{"reason": "x"}`, 403},
		{alice, "POST", "/tasks/" + id + "/renew", `{"token": "x"}`, 410},
	} {
		if code, m := e.do(t, tc.who, tc.method, tc.path, tc.body); code != tc.want {
			t.Errorf("%s %s %s: %d %v, want %d", tc.who.user, tc.method, tc.path, code, m, tc.want)
		}
	}
	if code, m := e.do(t, boss, "GET", "/tasks/"+id, ""); code != 200 || m["state"] != "queued" {
		t.Errorf("task changed by refused calls: %d %v", code, m)
	}
}

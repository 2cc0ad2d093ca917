package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/httpapi"
	"github.com/huren-health/huren/worklist"
	"github.com/huren-health/huren/worklist/api"
	"github.com/huren-health/huren/worklist/memory"
)

type env struct {
	srv   *httptest.Server
	q     worklist.Queue
	tr    *worklist.Tracker
	rules string
}

func newEnv(t testing.TB, dev bool, quiet time.Duration) *env {
	q := memory.New(worklist.Config{Lease: time.Minute})
	return newEnvWith(t, dev, quiet, q, q)
}

// newEnvWith serves the API from replica srvQ while the tracker writes
// through replica trQ (the same queue for memory).
func newEnvWith(t testing.TB, dev bool, quiet time.Duration, srvQ, trQ worklist.Queue) *env {
	gin.SetMode(gin.ReleaseMode)
	q := srvQ
	rules := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(rules, []byte(`{"default": {"group": "ct"}, "rules": [{"match": {"modality": ["ECG"]}, "group": "ecg"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	rt, err := worklist.OpenRouter(rules, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := worklist.NewTracker(worklist.TrackerConfig{Queue: trQ, Router: rt, Quiet: quiet})
	h := api.New(api.Config{Queue: q, Tracker: tr, Router: rt, DevHeaders: dev, Heartbeat: time.Second})
	e := gin.New()
	e.Use(httpapi.RequestIDs())
	h.Register(e.Group("/api/worklist"))
	srv := httptest.NewServer(e)
	t.Cleanup(func() {
		srv.Close()
		_ = tr.Close(context.Background())
		_ = q.Close()
		_ = trQ.Close()
	})
	return &env{srv: srv, q: q, tr: tr, rules: rules}
}

type who struct{ user, groups, roles string }

var (
	alice = who{"alice", "ct,ecg", ""}
	bob   = who{"bob", "ct", ""}
	boss  = who{"boss", "", "admin"}
)

func (e *env) do(t testing.TB, w who, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+"/api/worklist"+path, strings.NewReader(body))
	if w.user != "" {
		req.Header.Set("X-Huren-User", w.user)
		req.Header.Set("X-Huren-Groups", w.groups)
		req.Header.Set("X-Huren-Roles", w.roles)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestUnauthenticatedWithoutDevFlag(t *testing.T) {
	e := newEnv(t, false, time.Second)
	if code, _ := e.do(t, alice, "GET", "/tasks?group=ct", ""); code != 401 {
		t.Fatalf("status %d, want 401 (dev headers not enabled)", code)
	}
}

func TestFlow(t *testing.T) {
	e := newEnv(t, true, time.Second)
	if code, _ := e.do(t, who{}, "GET", "/tasks?group=ct", ""); code != 401 {
		t.Fatalf("no user: %d", code)
	}
	// ECGs: a critical one jumps the queue.
	for _, b := range []string{`{"id": "e1", "site": "v1"}`, `{"id": "e2", "site": "v1"}`, `{"id": "stemi", "site": "v3", "priority": "critical"}`} {
		if code, m := e.do(t, alice, "POST", "/ecg", b); code != 200 {
			t.Fatalf("submit ecg: %d %v", code, m)
		}
	}
	code, m := e.do(t, alice, "POST", "/groups/ecg/claim-next", "")
	if code != 200 || m["ref"] != "stemi" || m["lease_token"] == "" {
		t.Fatalf("claim-next: %d %v", code, m)
	}
	id, token := m["id"].(string), m["lease_token"].(string)
	if code, m := e.do(t, bob, "POST", "/tasks/"+id+"/claim", ""); code != 404 {
		t.Fatalf("claim of a task of another group (hidden): %d %v", code, m)
	}
	if code, m := e.do(t, who{"carol", "ecg", ""}, "POST", "/tasks/"+id+"/claim", ""); code != 409 {
		t.Fatalf("second claim: %d %v", code, m)
	}
	if code, _ := e.do(t, alice, "POST", "/tasks/"+id+"/renew", `{"token": "nope"}`); code != 410 {
		t.Fatalf("renew wrong token: %d", code)
	}
	if code, _ := e.do(t, alice, "POST", "/tasks/"+id+"/renew", `{}`); code != 400 {
		t.Fatalf("renew without token: %d", code)
	}
	if code, m := e.do(t, alice, "POST", "/tasks/"+id+"/renew", `{"token": "`+token+`"}`); code != 200 || m["lease_token"] != token {
		t.Fatalf("renew: %d %v", code, m)
	}
	code, m = e.do(t, alice, "POST", "/tasks/"+id+"/complete", `{"token": "`+token+`"}`)
	if code != 200 || m["stage"] != "sign" || m["lease_token"] != nil {
		t.Fatalf("complete by junior: %d %v", code, m)
	}
	if code, _ := e.do(t, alice, "POST", "/tasks/"+id+"/complete", `{"token": "`+token+`"}`); code != 410 {
		t.Fatalf("complete twice: %d", code)
	}
	if code, _ := e.do(t, alice, "GET", "/tasks/0000000000000deadbeef", ""); code != 404 {
		t.Fatalf("unknown task: %d", code)
	}
	code, m = e.do(t, alice, "GET", "/tasks/"+id, "")
	if code != 200 || len(m["history"].([]any)) != 4 {
		t.Fatalf("get: %d %v", code, m)
	}
	if code, _ := e.do(t, bob, "GET", "/tasks/"+id, ""); code != 404 {
		t.Fatalf("task of another group: %d", code)
	}
	code, m = e.do(t, alice, "GET", "/tasks?group=ecg&state=queued&stage=read", "")
	if code != 200 || m["total"].(float64) != 2 {
		t.Fatalf("list: %d %v", code, m)
	}
	if code, _ := e.do(t, alice, "GET", "/tasks", ""); code != 400 {
		t.Fatalf("list without group as reader: %d", code)
	}
	if code, _ := e.do(t, alice, "GET", "/tasks?group=ecg&limit=x", ""); code != 400 {
		t.Fatalf("bad limit: %d", code)
	}
	// Admin operations.
	if code, _ := e.do(t, alice, "POST", "/tasks/"+id+"/reassign", `{"group": "ct"}`); code != 403 {
		t.Fatalf("reassign by reader: %d", code)
	}
	if code, m := e.do(t, boss, "POST", "/tasks/"+id+"/reassign", `{"group": "ct"}`); code != 200 || m["group"] != "ct" {
		t.Fatalf("reassign: %d %v", code, m)
	}
	if code, m := e.do(t, boss, "POST", "/tasks/"+id+"/cancel", `{"reason": "test"}`); code != 200 || m["state"] != "cancelled" {
		t.Fatalf("cancel: %d %v", code, m)
	}
	if code, _ := e.do(t, boss, "POST", "/tasks/"+id+"/cancel", `{"bogus": 1}`); code != 400 {
		t.Fatalf("unknown body field: %d", code)
	}
	// Rules reload: a bad file is 422 and keeps the old rules.
	if err := os.WriteFile(e.rules, []byte(`{"default": {"group": ""}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, m := e.do(t, boss, "POST", "/rules/reload", ""); code != 422 || !strings.Contains(m["error"].(string), "default.group") {
		t.Fatalf("bad rules reload: %d %v", code, m)
	}
	if code, _ := e.do(t, alice, "POST", "/rules/reload", ""); code != 403 {
		t.Fatalf("reload by reader: %d", code)
	}
	if code, _ := e.do(t, alice, "POST", "/studies/1.2.3/complete", ""); code != 404 {
		t.Fatalf("complete unknown study: %d", code)
	}
}

// sseEvents reads SSE events from resp into a channel.
func sseEvents(body io.Reader) <-chan worklist.Event {
	ch := make(chan worklist.Event, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(body)
		for sc.Scan() {
			line := sc.Text()
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var e worklist.Event
				if json.Unmarshal([]byte(data), &e) == nil {
					ch <- e
				}
			}
		}
	}()
	return ch
}

func openSSE(t testing.TB, e *env, query string) (<-chan worklist.Event, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/worklist/events?"+query, nil)
	req.Header.Set("X-Huren-User", "alice")
	req.Header.Set("X-Huren-Groups", "ct,ecg")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// Wait for the opening comment so the subscription is live.
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	return sseEvents(br), func() { cancel(); resp.Body.Close() }
}

func TestSSE(t *testing.T) {
	e := newEnv(t, true, 50*time.Millisecond)
	if code, _ := e.do(t, alice, "GET", "/events", ""); code != 400 {
		t.Fatalf("events without group: %d", code)
	}
	if code, _ := e.do(t, bob, "GET", "/events?group=ecg", ""); code != 403 {
		t.Fatalf("events of another group: %d", code)
	}
	ch, stop := openSSE(t, e, "group=ecg&site=v9")
	defer stop()
	// An ECG of another site and a study of another group are filtered out.
	e.do(t, alice, "POST", "/ecg", `{"id": "other-site", "site": "v1"}`)
	if err := e.tr.Observe(worklist.Stored{StudyUID: "1.2.3", InstanceUID: "1.2.3.4", Site: "v9", Modality: "CT"}); err != nil {
		t.Fatal(err)
	}
	e.do(t, alice, "POST", "/ecg", `{"id": "mine", "site": "v9"}`)
	select {
	case ev := <-ch:
		if ev.Type != worklist.EvCreated || ev.Doc == nil || ev.Doc.Ref != "mine" || ev.Token != "" {
			t.Fatalf("first event %+v", ev)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no event on the stream")
	}
}

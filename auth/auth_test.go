package auth_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"

	"github.com/huren-health/huren/auth"
	"github.com/huren-health/huren/auth/authtest"
	"github.com/huren-health/huren/auth/memory"
	"github.com/huren-health/huren/auth/redis"
	"github.com/huren-health/huren/errkind"
	"github.com/huren-health/huren/internal/testbackend"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/fs"
	"github.com/huren-health/huren/worklist"
)

var cheap = auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1}

func newStore(t testing.TB) storage.Store {
	t.Helper()
	st, err := fs.New(fs.Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newService(t testing.TB, st storage.Store, state auth.State) *auth.Service {
	t.Helper()
	svc := auth.New(st, state, auth.Config{Argon2: cheap, RefreshInterval: 20 * time.Millisecond}, nil)
	if err := svc.Start(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return svc
}

func user(grants ...auth.Grant) *auth.Principal {
	return &auth.Principal{Kind: auth.KindUser, Name: "u", Grants: grants}
}

func token(site string, caps ...auth.Capability) *auth.Principal {
	return &auth.Principal{Kind: auth.KindToken, Name: "token:x", TokenSite: site, Capabilities: caps}
}

func TestPolicy(t *testing.T) {
	svc := newService(t, newStore(t), memory.New())
	authtest.NewWorld(t, svc)
	pol := svc.Policy()
	site := func(s string) auth.Resource { return auth.Resource{Site: s} }
	group := func(g string) auth.Resource { return auth.Resource{Group: g} }
	tech := user(auth.Grant{Role: auth.Technician, Site: "town-a"})
	reader := user(auth.Grant{Role: auth.Reader, Group: "imaging-a"})
	senior := user(auth.Grant{Role: auth.SeniorReader, Group: "imaging-a"})
	doctor := user(auth.Grant{Role: auth.ReferringDoctor, Site: "town-a"})
	sadmin := user(auth.Grant{Role: auth.SiteAdmin, Site: "town-a"})
	hadmin := user(auth.Grant{Role: auth.HubAdmin})
	multi := user(auth.Grant{Role: auth.Technician, Site: "town-a"}, auth.Grant{Role: auth.Reader, Group: "imaging-b"})
	mustChange := &auth.Principal{Kind: auth.KindUser, Grants: hadmin.Grants, MustChange: true}
	tests := []struct {
		name string
		p    *auth.Principal
		a    auth.Action
		r    auth.Resource
		want errkind.Kind // errkind.Other = allowed
	}{
		{"anon", nil, auth.StudyRead, site("town-a"), errkind.Unauthenticated},
		{"tech reads own site", tech, auth.StudyRead, site("town-a"), errkind.Other},
		{"tech reads other site → 404", tech, auth.StudyRead, site("town-b"), errkind.NotFound},
		{"tech reads own village → 404 (own site only)", tech, auth.StudyRead, site("village-a1"), errkind.NotFound},
		{"tech uploads own", tech, auth.StudyUpload, site("town-a"), errkind.Other},
		{"tech uploads other → 403", tech, auth.StudyUpload, site("town-b"), errkind.Forbidden},
		{"tech cannot claim", tech, auth.WorklistClaim, group("imaging-a"), errkind.Forbidden},
		{"reader reads covered site", reader, auth.StudyRead, site("town-a"), errkind.Other},
		{"reader reads covered village", reader, auth.StudyRead, site("village-a1"), errkind.Other},
		{"reader reads uncovered → 404", reader, auth.StudyRead, site("town-b"), errkind.NotFound},
		{"reader claims own group", reader, auth.WorklistClaim, group("imaging-a"), errkind.Other},
		{"reader claims other group", reader, auth.WorklistClaim, group("imaging-b"), errkind.Forbidden},
		{"reader cannot sign", reader, auth.ReportSign, group("imaging-a"), errkind.Forbidden},
		{"senior signs own group", senior, auth.ReportSign, group("imaging-a"), errkind.Other},
		{"senior cannot sign other group", senior, auth.ReportSign, group("imaging-b"), errkind.Forbidden},
		{"reader cannot upload", reader, auth.StudyUpload, site("town-a"), errkind.Forbidden},
		{"doctor reads own reports", doctor, auth.ReportRead, site("town-a"), errkind.Other},
		{"doctor other site → 404", doctor, auth.ReportRead, site("town-b"), errkind.NotFound},
		{"doctor 互认 lookup", doctor, auth.MutualLookup, auth.Any, errkind.Other},
		{"tech no 互认 lookup", tech, auth.MutualLookup, auth.Any, errkind.Forbidden},
		{"site admin manages own", sadmin, auth.UserAdmin, site("town-a"), errkind.Other},
		{"site admin manages village below", sadmin, auth.UserAdmin, site("village-a1"), errkind.Other},
		{"site admin not other", sadmin, auth.UserAdmin, site("town-b"), errkind.Forbidden},
		{"site admin not hub", sadmin, auth.UserAdmin, site("county"), errkind.Forbidden},
		{"site admin sees no studies", sadmin, auth.StudyRead, site("town-a"), errkind.NotFound},
		{"site admin no audit", sadmin, auth.AuditRead, auth.Any, errkind.Forbidden},
		{"hub admin audit", hadmin, auth.AuditRead, auth.Any, errkind.Other},
		{"hub admin users anywhere", hadmin, auth.UserAdmin, site("village-a1"), errkind.Other},
		{"hub admin sees no studies", hadmin, auth.StudyRead, site("town-a"), errkind.NotFound},
		{"must change → only self", mustChange, auth.UserAdmin, site("town-a"), errkind.Forbidden},
		{"must change → self ok", mustChange, auth.AccountSelf, auth.Any, errkind.Other},
		{"multi-role: own tech", multi, auth.StudyUpload, site("town-a"), errkind.Other},
		{"multi-role: reads b via group", multi, auth.StudyRead, site("town-b"), errkind.Other},
		{"multi-role: cannot upload b", multi, auth.StudyUpload, site("town-b"), errkind.Forbidden},
		{"upload token uploads own", token("town-a", auth.CapUpload), auth.StudyUpload, site("town-a"), errkind.Other},
		{"upload token not other", token("town-a", auth.CapUpload), auth.StudyUpload, site("town-b"), errkind.Forbidden},
		{"upload token cannot read", token("town-a", auth.CapUpload), auth.StudyRead, site("town-a"), errkind.NotFound},
		{"read token reads own", token("town-a", auth.CapRead), auth.StudyRead, site("town-a"), errkind.Other},
		{"delivery token reports", token("town-a", auth.CapReportDelivery), auth.ReportDeliver, site("town-a"), errkind.Other},
		{"delivery token no images", token("town-a", auth.CapReportDelivery), auth.StudyRead, site("town-a"), errkind.NotFound},
		{"token no admin", token("town-a", auth.CapUpload, auth.CapRead, auth.CapReportDelivery), auth.TokenAdmin, site("town-a"), errkind.Forbidden},
		{"token no worklist", token("town-a", auth.CapRead), auth.WorklistRead, group("imaging-a"), errkind.Forbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := pol.Authorize(tc.p, tc.a, tc.r)
			got := errkind.Other
			if err != nil {
				got = errkind.Of(err)
			}
			if got != tc.want {
				t.Fatalf("Authorize = %v (kind %d), want kind %d", err, got, tc.want)
			}
		})
	}
}

func TestSitesVisibleAndActor(t *testing.T) {
	svc := newService(t, newStore(t), memory.New())
	authtest.NewWorld(t, svc)
	if _, err := svc.AddGroup(context.Background(), auth.Group{ID: "ecg-all", Name: "心电诊断中心"}); err != nil {
		t.Fatal(err)
	}
	pol := svc.Policy()
	tests := []struct {
		name  string
		p     *auth.Principal
		sites []string
		actor worklist.Actor
		aerr  bool
	}{
		{"technician", user(auth.Grant{Role: auth.Technician, Site: "town-a"}), []string{"town-a"}, worklist.Actor{ID: "u"}, false},
		{"reader of a", user(auth.Grant{Role: auth.Reader, Group: "imaging-a"}), []string{"town-a", "village-a1"},
			worklist.Actor{ID: "u", Groups: []string{"imaging-a"}}, false},
		{"reader of an all-sites group", user(auth.Grant{Role: auth.SeniorReader, Group: "ecg-all"}), nil,
			worklist.Actor{ID: "u", Groups: []string{"ecg-all"}, Senior: true}, false},
		{"senior in a, reader in b: not senior", user(auth.Grant{Role: auth.SeniorReader, Group: "imaging-a"}, auth.Grant{Role: auth.Reader, Group: "imaging-b"}),
			[]string{"town-a", "town-b", "village-a1"}, worklist.Actor{ID: "u", Groups: []string{"imaging-a", "imaging-b"}}, false},
		{"hub admin", user(auth.Grant{Role: auth.HubAdmin}), []string{}, worklist.Actor{ID: "u", Admin: true}, false},
		{"site admin", user(auth.Grant{Role: auth.SiteAdmin, Site: "town-a"}), []string{}, worklist.Actor{ID: "u"}, false},
		{"read token", token("town-b", auth.CapRead), []string{"town-b"}, worklist.Actor{}, true},
		{"upload token", token("town-b", auth.CapUpload), []string{}, worklist.Actor{}, true},
		{"anon", nil, []string{}, worklist.Actor{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := pol.SitesVisible(tc.p)
			if (got == nil) != (tc.sites == nil) || !cmp.Equal(got, tc.sites) && len(got)+len(tc.sites) > 0 {
				t.Fatalf("SitesVisible = %#v, want %#v", got, tc.sites)
			}
			a, err := pol.Actor(tc.p)
			if (err != nil) != tc.aerr {
				t.Fatalf("Actor err = %v", err)
			}
			if d := cmp.Diff(tc.actor, a); d != "" {
				t.Fatalf("Actor (-want +got):\n%s", d)
			}
		})
	}
	// Site admins administer their site and everything below it.
	got := pol.SitesFor(user(auth.Grant{Role: auth.SiteAdmin, Site: "town-a"}), auth.UserAdmin)
	if d := cmp.Diff([]string{"town-a", "village-a1"}, got); d != "" {
		t.Fatalf("SitesFor(site admin, users):\n%s", d)
	}
}

func TestPasswords(t *testing.T) {
	h, err := auth.HashPassword("correct horse battery staple", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := auth.CheckPassword("correct horse battery staple", h); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := auth.CheckPassword("correct horse battery stapler", h); ok {
		t.Fatal("wrong password accepted")
	}
	h2, _ := auth.HashPassword("correct horse battery staple", cheap)
	if h == h2 {
		t.Fatal("same salt twice")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA",
		"$argon2id$v=19$m=1024,t=1,p=1$!!$AAAA", "$argon2id$v=18$m=1024,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=1024,t=0,p=1$AAAA$AAAA"} {
		if _, err := auth.CheckPassword("x", bad); !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("CheckPassword(%q): %v", bad, err)
		}
	}
	for _, pw := range []string{"short", strings.Repeat("x", 257), "li.wei.li.wei"} {
		if auth.ValidPassword("li.wei.li.wei", pw) == nil {
			t.Errorf("ValidPassword accepted %q", pw)
		}
	}
	otp, err := auth.GeneratePassword()
	if err != nil || len(otp) != 20 || auth.ValidPassword("admin", otp) != nil {
		t.Fatalf("otp %q %v", otp, err)
	}
}

func TestInputValidation(t *testing.T) {
	svc := newService(t, newStore(t), memory.New())
	ctx := context.Background()
	authtest.NewWorld(t, svc)
	for _, s := range []auth.Site{
		{ID: "../x", Name: "x", Kind: auth.Township, Parent: "county"},
		{ID: "Upper", Name: "x", Kind: auth.Township, Parent: "county"},
		{ID: "ok-1", Name: "", Kind: auth.Township, Parent: "county"},
		{ID: "ok-2", Name: "x", Kind: auth.Township, Parent: "nowhere"},
		{ID: "ok-3", Name: "x", Kind: "castle", Parent: "county"},
		{ID: "hub2", Name: "x", Kind: auth.Hub},
	} {
		if _, err := svc.AddSite(ctx, s); err == nil {
			t.Errorf("AddSite(%+v) accepted", s)
		}
	}
	if _, err := svc.AddSite(ctx, auth.Site{ID: "town-a", Name: "dup", Kind: auth.Township, Parent: "county"}); !errors.Is(err, auth.ErrExists) {
		t.Errorf("duplicate site: %v", err)
	}
	for _, nu := range []auth.NewUser{
		{Username: "../../etc", Grants: []auth.Grant{{Role: auth.Technician, Site: "town-a"}}},
		{Username: "x", Grants: nil},
		{Username: "x", Grants: []auth.Grant{{Role: "god"}}},
		{Username: "x", Grants: []auth.Grant{{Role: auth.Technician, Site: "imaging-a"}}},
		{Username: "x", Grants: []auth.Grant{{Role: auth.Reader, Group: "town-a"}}},
		{Username: "x", Grants: []auth.Grant{{Role: auth.HubAdmin, Site: "town-a"}}},
		{Username: "x", Password: "short", Grants: []auth.Grant{{Role: auth.Technician, Site: "town-a"}}},
	} {
		if _, _, err := svc.AddUser(ctx, nu); !errors.Is(err, auth.ErrInvalid) && !errors.Is(err, auth.ErrWeakPassword) {
			t.Errorf("AddUser(%+v): %v", nu, err)
		}
	}
	if _, _, err := svc.AddUser(ctx, auth.NewUser{Username: "victim-own", Grants: []auth.Grant{{Role: auth.Technician, Site: "town-a"}}}); !errors.Is(err, auth.ErrExists) {
		t.Errorf("duplicate user: %v", err)
	}
	for _, nt := range []auth.NewToken{
		{Name: "x", Site: "nowhere", Capabilities: []auth.Capability{auth.CapRead}},
		{Name: "x", Site: "town-a"},
		{Name: "x", Site: "town-a", Capabilities: []auth.Capability{"admin"}},
		{Name: "", Site: "town-a", Capabilities: []auth.Capability{auth.CapRead}},
	} {
		if _, _, err := svc.CreateToken(ctx, nt); !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("CreateToken(%+v): %v", nt, err)
		}
	}
	if _, err := svc.RevokeToken(ctx, "../../accounts/x"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("revoke traversal: %v", err)
	}
}

// TestReplicasShareState runs two Services (two replicas) over one store
// and one Redis: a session opened on one is served by the other, and a
// revocation or disable on one reaches the other through the generation.
func TestReplicasShareState(t *testing.T) {
	addr := testbackend.RedisAddr(t)
	prefix := testbackend.UniqueName("huren-test-auth-") + ":"
	open := func() *redis.State {
		s, err := redis.Open("redis://"+addr+"/0", prefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Purge(context.Background()); _ = s.Close() })
		return s
	}
	st := newStore(t)
	ctx := context.Background()
	a := newService(t, st, open())
	w := authtest.NewWorld(t, a)
	b := auth.New(st, open(), auth.Config{Argon2: cheap, RefreshInterval: 20 * time.Millisecond}, nil)
	if err := b.Start(ctx, true); err != nil { // background refresher on
		t.Fatal(err)
	}
	defer b.Close()

	id, _, err := a.Login(ctx, "u-technician", w.Password, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := b.SessionPrincipal(ctx, id); err != nil || p.Name != "u-technician" {
		t.Fatalf("session from replica a on b: %v %v", p, err)
	}
	bearer := w.Bearer["token:read"]
	if _, err := b.TokenPrincipal(ctx, bearer); err != nil {
		t.Fatal(err)
	}
	tokID := strings.Split(bearer, "_")[1]
	if _, err := a.RevokeToken(ctx, tokID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetDisabled(ctx, "u-technician", true); err != nil {
		t.Fatal(err)
	}
	// b's refresher sees the generation move (polling, no sleep-and-hope).
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, terr := b.TokenPrincipal(ctx, bearer)
		_, serr := b.SessionPrincipal(ctx, id)
		if terr != nil && serr != nil {
			if !errors.Is(terr, auth.ErrUnauthenticated) || !errors.Is(serr, auth.ErrSessionNotFound) {
				t.Fatalf("errors: %v / %v", terr, serr)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replica b still accepts a revoked token or a disabled user's session")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Lockout counters are shared too: failures on a lock the user on b.
	for range 5 {
		_, _, _ = a.Login(ctx, "u-reader", "wrong wrong wrong", "10.0.0.2")
	}
	if _, _, err := b.Login(ctx, "u-reader", w.Password, "10.0.0.3"); !errors.Is(err, auth.ErrLockedOut) {
		t.Fatalf("login on b after 5 failures on a: %v", err)
	}
}

func TestUploadSiteAndCheck(t *testing.T) {
	svc := newService(t, newStore(t), memory.New())
	authtest.NewWorld(t, svc)
	ctxWith := func(p *auth.Principal) *gin.Context {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("POST", "/", nil)
		if p != nil {
			c.Set("huren.principal", p)
		}
		return c
	}
	tech := user(auth.Grant{Role: auth.Technician, Site: "town-a"})
	two := user(auth.Grant{Role: auth.Technician, Site: "town-a"}, auth.Grant{Role: auth.Technician, Site: "town-b"})
	tests := []struct {
		name      string
		p         *auth.Principal
		requested string
		want      string
		kind      errkind.Kind
	}{
		{"own implicit", tech, "", "town-a", errkind.Other},
		{"own explicit", tech, "town-a", "town-a", errkind.Other},
		{"other explicit", tech, "town-b", "", errkind.Forbidden},
		{"token", token("town-b", auth.CapUpload), "", "town-b", errkind.Other},
		{"read token", token("town-b", auth.CapRead), "", "", errkind.Forbidden},
		{"two sites must choose", two, "", "", errkind.Invalid},
		{"two sites chosen", two, "town-b", "town-b", errkind.Other},
		{"reader", user(auth.Grant{Role: auth.Reader, Group: "imaging-a"}), "", "", errkind.Forbidden},
		{"anon", nil, "", "", errkind.Unauthenticated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := svc.UploadSite(ctxWith(tc.p), tc.requested)
			kind := errkind.Other
			if err != nil {
				kind = errkind.Of(err)
			}
			if got != tc.want || kind != tc.kind {
				t.Fatalf("UploadSite = %q, %v; want %q kind %d", got, err, tc.want, tc.kind)
			}
		})
	}
	if err := svc.Check(ctxWith(tech), auth.StudyRead, auth.Resource{Site: "town-b"}); errkind.Of(err) != errkind.NotFound {
		t.Fatalf("Check other site study: %v", err)
	}
}

// TestChangesReachAnotherProcess is the CLI beside a running embedded hub:
// two Services on the same storage, each with its own in-process State (two
// processes share nothing else). A token revoked, a token created and a user
// disabled by the "CLI" take effect on the "hub" at its next refresh.
func TestChangesReachAnotherProcess(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	hub := newService(t, st, memory.New())
	w := authtest.NewWorld(t, hub)
	cli := newService(t, st, memory.New())

	bearer := w.Bearer["token:read"]
	if _, err := hub.TokenPrincipal(ctx, bearer); err != nil {
		t.Fatal(err)
	}
	id, _, err := hub.Login(ctx, "u-technician", w.Password, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.RevokeToken(ctx, strings.Split(bearer, "_")[1]); err != nil {
		t.Fatal(err)
	}
	_, fresh, err := cli.CreateToken(ctx, auth.NewToken{Name: "cli", Site: "town-a", Capabilities: []auth.Capability{auth.CapRead}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.SetDisabled(ctx, "u-technician", true); err != nil {
		t.Fatal(err)
	}
	if err := hub.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := hub.TokenPrincipal(ctx, bearer); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("token revoked by another process still accepted: %v", err)
	}
	if _, err := hub.TokenPrincipal(ctx, fresh); err != nil {
		t.Errorf("token created by another process refused: %v", err)
	}
	if _, err := hub.SessionPrincipal(ctx, id); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Errorf("session of a user disabled by another process still valid: %v", err)
	}
}

// TestChangeSeenAfterRedisWipe: Redis lost its keys (FLUSHALL, a fresh
// Redis) and the next change brings the shared generation back to exactly
// the value a replica last saw. The revocation must still reach it.
func TestChangeSeenAfterRedisWipe(t *testing.T) {
	addr := testbackend.RedisAddr(t)
	prefix := testbackend.UniqueName("huren-test-auth-") + ":"
	open := func() *redis.State {
		s, err := redis.Open("redis://"+addr+"/0", prefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Purge(context.Background()); _ = s.Close() })
		return s
	}
	ctx := context.Background()
	st := newStore(t)
	stateA := open()
	if err := stateA.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	// The world is created before replica a starts, so a starts at the
	// generation the world's writes left (one per write).
	setup := newService(t, st, open())
	w := authtest.NewWorld(t, setup)
	a := newService(t, st, stateA)
	bearer := w.Bearer["token:read"]
	if _, err := a.TokenPrincipal(ctx, bearer); err != nil {
		t.Fatal(err)
	}
	seen, err := stateA.Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stateA.Purge(ctx); err != nil { // the wipe
		t.Fatal(err)
	}
	for range seen - 1 { // other changes after the wipe, none of them a revocation
		if _, err := stateA.BumpGeneration(ctx); err != nil {
			t.Fatal(err)
		}
	}
	b := newService(t, st, open())
	if _, err := b.RevokeToken(ctx, strings.Split(bearer, "_")[1]); err != nil {
		t.Fatal(err)
	}
	if g, _ := stateA.Generation(ctx); g != seen {
		t.Fatalf("test setup: generation %d, want %d (the value a last saw)", g, seen)
	}
	if err := a.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.TokenPrincipal(ctx, bearer); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("revoked token still accepted after a Redis wipe: %v", err)
	}
}

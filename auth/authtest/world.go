package authtest

import (
	"context"
	"net/http"
	"testing"

	"github.com/huren-health/huren/auth"
)

// World is a populated account directory for HTTP tests: a county hub
// "county" with townships "town-a" (own) and "town-b" (other), a village
// "village-a1" under town-a, reading groups "imaging-a" (reads town-a and
// village-a1) and "imaging-b" (reads town-b), one user per role column at
// the own site, victims at both sites and tokens of each capability.
type World struct {
	Service *auth.Service
	// Users maps a matrix column to its username; Password is everyone's.
	Users    map[string]string
	Password string
	// Bearer maps token:* columns to their secret bearer strings.
	Bearer map[string]string
	// VictimUser and VictimToken: own=true → at town-a, false → town-b.
	VictimUser  map[bool]string
	VictimToken map[bool]string
	// LoginProbe is a user whose credentials POST /api/auth/login uses.
	LoginProbe string
}

// Site ids of the world.
const (
	Hub       = "county"
	OwnSite   = "town-a"
	OtherSite = "town-b"
	Village   = "village-a1"
	OwnGroup  = "imaging-a"
	OtherGrp  = "imaging-b"
)

// NewWorld populates svc (which must be started over an empty store).
func NewWorld(t testing.TB, svc *auth.Service) *World {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []auth.Site{
		{ID: Hub, Name: "县人民医院", Kind: auth.Hub},
		{ID: OwnSite, Name: "甲镇卫生院", Kind: auth.Township, Parent: Hub},
		{ID: OtherSite, Name: "乙镇卫生院", Kind: auth.Township, Parent: Hub},
		{ID: Village, Name: "甲一村卫生室", Kind: auth.Village, Parent: OwnSite},
	} {
		if _, err := svc.AddSite(ctx, s); err != nil {
			// A hub bootstrapped on first start already has its hub site.
			if _, exists := svc.Site(s.ID); exists != nil {
				must(err)
			}
		}
	}
	_, err := svc.AddGroup(ctx, auth.Group{ID: OwnGroup, Name: "影像诊断中心 A", Sites: []string{OwnSite, Village}})
	must(err)
	_, err = svc.AddGroup(ctx, auth.Group{ID: OtherGrp, Name: "影像诊断中心 B", Sites: []string{OtherSite}})
	must(err)
	w := &World{Service: svc, Password: "correct horse battery staple", Users: map[string]string{}, Bearer: map[string]string{},
		VictimUser: map[bool]string{}, VictimToken: map[bool]string{}, LoginProbe: "probe"}
	add := func(name string, g ...auth.Grant) {
		_, _, err := svc.AddUser(ctx, auth.NewUser{Username: name, Password: w.Password, Grants: g})
		must(err)
	}
	cols := map[string]auth.Grant{
		"technician":       {Role: auth.Technician, Site: OwnSite},
		"reader":           {Role: auth.Reader, Group: OwnGroup},
		"senior_reader":    {Role: auth.SeniorReader, Group: OwnGroup},
		"referring_doctor": {Role: auth.ReferringDoctor, Site: OwnSite},
		"site_admin":       {Role: auth.SiteAdmin, Site: OwnSite},
		"hub_admin":        {Role: auth.HubAdmin},
	}
	for col, g := range cols {
		name := "u-" + string(g.Role)
		add(name, g)
		w.Users[col] = name
	}
	add("victim-own", auth.Grant{Role: auth.Technician, Site: OwnSite})
	add("victim-other", auth.Grant{Role: auth.Technician, Site: OtherSite})
	add(w.LoginProbe, auth.Grant{Role: auth.Technician, Site: OwnSite})
	w.VictimUser[true], w.VictimUser[false] = "victim-own", "victim-other"
	for _, c := range auth.Capabilities {
		_, secret, err := svc.CreateToken(ctx, auth.NewToken{Name: "device " + string(c), Site: OwnSite, Capabilities: []auth.Capability{c}})
		must(err)
		w.Bearer["token:"+string(c)] = secret
	}
	for own, site := range map[bool]string{true: OwnSite, false: OtherSite} {
		tok, _, err := svc.CreateToken(ctx, auth.NewToken{Name: "victim", Site: site, Capabilities: []auth.Capability{auth.CapRead}})
		must(err)
		w.VictimToken[own] = tok.ID
	}
	return w
}

// Authorize implements Env.Authorize: a fresh session (cookie + CSRF
// header) for user columns, the bearer for token columns.
func (w *World) Authorize(t testing.TB, column string, req *http.Request) {
	t.Helper()
	if b, ok := w.Bearer[column]; ok {
		req.Header.Set("Authorization", "Bearer "+b)
		return
	}
	name, ok := w.Users[column]
	if !ok {
		t.Fatalf("authtest: unknown column %q", column)
	}
	id, sess, err := w.Service.Login(context.Background(), name, w.Password, "192.0.2.10")
	if err != nil {
		t.Fatalf("authtest: login %s: %v", name, err)
	}
	req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: id})
	req.Header.Set(auth.CSRFHeader, sess.CSRF)
}

// Params implements Env.Params for the account routes (:user, :token);
// other routes get nil, so callers compose it with their own.
func (w *World) Params(route string, own bool) map[string]string {
	return map[string]string{"user": w.VictimUser[own], "token": w.VictimToken[own]}
}

// Body implements Env.Body for the account routes: bodies that pass
// authorization for the intended site but fail validation (400), so an
// allowed request changes nothing; login uses the probe's credentials.
func (w *World) Body(method, route string, own bool) (string, []byte) {
	site := OwnSite
	if !own {
		site = OtherSite
	}
	const js = "application/json"
	switch method + " " + route {
	case "POST /api/auth/login":
		return js, []byte(`{"username":"` + w.LoginProbe + `","password":"` + w.Password + `"}`)
	case "POST /api/auth/password":
		return js, []byte(`{"current":"","new":""}`)
	case "POST /api/admin/sites":
		return js, []byte(`{"id":"","name":"x","kind":"village","parent":"` + site + `"}`)
	case "POST /api/admin/groups":
		return js, []byte(`{"id":"","name":"x"}`)
	case "POST /api/admin/users":
		return js, []byte(`{"username":"","grants":[{"role":"technician","site":"` + site + `"}]}`)
	case "PUT /api/admin/users/:user/grants":
		return js, []byte(`{"grants":[]}`)
	case "POST /api/admin/tokens":
		return js, []byte(`{"name":"","site":"` + site + `","capabilities":["read"]}`)
	}
	return "", nil
}

package cli_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/huren-health/huren/audit"
	"github.com/huren-health/huren/auth"
	"github.com/huren-health/huren/auth/cli"
	"github.com/huren-health/huren/auth/memory"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/fs"
)

var cheap = auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1}

func run(t *testing.T, d cli.Deps, args ...string) string {
	t.Helper()
	var out, errw bytes.Buffer
	if err := d.Main(context.Background(), args, &out, &errw); err != nil {
		t.Fatalf("huren %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errw.String())
	}
	return out.String()
}

var otpRE = regexp.MustCompile(`password[^:]*: ([A-Za-z0-9]{20})`)

// TestNewDeployment walks the "done when": bootstrap, a township,
// a technician, a reading group with a reader, a referring doctor, a
// device token; a running server sees the changes; audit verify passes,
// then fails after one byte of a segment changes.
func TestNewDeployment(t *testing.T) {
	ctx := context.Background()
	st, err := fs.New(fs.Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	state := memory.New()
	d := cli.Deps{Store: st, State: state, Argon2: cheap, Actor: "cli:test"}

	// A running server replica over the same store and state.
	server := auth.New(st, state, auth.Config{Argon2: cheap}, nil)
	if err := server.Start(ctx, false); err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	out := run(t, d, "bootstrap", "-hub-id", "county", "-hub-name", "县人民医院")
	m := otpRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("bootstrap printed no one-time password:\n%s", out)
	}
	var errw bytes.Buffer
	if err := d.Main(ctx, []string{"bootstrap"}, io.Discard, &errw); !errors.Is(err, auth.ErrBootstrapped) {
		t.Fatalf("second bootstrap: %v", err)
	}
	run(t, d, "site", "add", "-id", "xz", "-name", "新镇卫生院", "-kind", "township", "-parent", "county")
	run(t, d, "group", "add", "-id", "imaging", "-name", "影像诊断中心", "-sites", "xz")
	out = run(t, d, "user", "add", "-username", "tech1", "-name", "李技师", "-role", "technician@xz")
	techOTP := otpRE.FindStringSubmatch(out)
	run(t, d, "user", "add", "-username", "reader1", "-role", "reader@imaging")
	run(t, d, "user", "add", "-username", "doc1", "-role", "referring_doctor@xz")
	out = run(t, d, "token", "create", "-name", "CT", "-site", "xz", "-cap", "upload")
	if !strings.Contains(out, "secret (shown once): hrn_") {
		t.Fatalf("token create output:\n%s", out)
	}
	out = run(t, d, "user", "list")
	for _, want := range []string{"tech1", "technician@xz", "reader@group:imaging", "must-change-password", "hub_admin"} {
		if !strings.Contains(out, want) {
			t.Errorf("user list lacks %q:\n%s", want, out)
		}
	}
	if out := run(t, d, "site", "list"); !strings.Contains(out, "xz") || !strings.Contains(out, "township") {
		t.Errorf("site list:\n%s", out)
	}
	if out := run(t, d, "token", "list"); !strings.Contains(out, "upload") || !strings.Contains(out, "never") {
		t.Errorf("token list:\n%s", out)
	}

	// The server picks the changes up from the shared generation.
	if err := server.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := server.Login(ctx, "tech1", techOTP[1], "10.1.1.1"); err != nil {
		t.Fatalf("technician login on the server: %v", err)
	}
	run(t, d, "user", "disable", "tech1")
	if err := server.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := server.Login(ctx, "tech1", techOTP[1], "10.1.1.1"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("disabled technician login: %v", err)
	}
	out = run(t, d, "user", "reset-password", "doc1")
	if otpRE.FindStringSubmatch(out) == nil {
		t.Fatalf("reset-password output:\n%s", out)
	}

	// The trail has every change; verify passes, then fails after one byte.
	out = run(t, d, "audit", "search", "-user", "cli:test", "-limit", "100")
	for _, want := range []string{"admin.user.create", "admin.site.create", "admin.token.create", "admin.user.disable"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit search lacks %s:\n%s", want, out)
		}
	}
	if out := run(t, d, "audit", "verify"); !strings.Contains(out, "OK") {
		t.Fatalf("verify:\n%s", out)
	}
	var key string
	_ = st.List(ctx, "audit/", func(i storage.Info) error { key = i.Key; return nil })
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	b[len(b)/2] ^= 0x01
	if _, err := st.Put(ctx, key, bytes.NewReader(b), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var vout bytes.Buffer
	err = d.Main(ctx, []string{"audit", "verify"}, &vout, io.Discard)
	if !errors.Is(err, audit.ErrTampered) || !strings.Contains(vout.String(), "PROBLEM") {
		t.Fatalf("verify after a changed byte: %v\n%s", err, vout.String())
	}
}

func TestUsageErrors(t *testing.T) {
	st, err := fs.New(fs.Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := cli.Deps{Store: st, State: memory.New(), Argon2: cheap}
	for _, args := range [][]string{{}, {"nope"}, {"user"}, {"user", "frobnicate"}, {"token", "revoke"}, {"audit"}, {"user", "add", "-bogus"}} {
		err := d.Main(context.Background(), args, io.Discard, io.Discard)
		if !errors.Is(err, cli.ErrUsage) {
			t.Errorf("%q: %v, want ErrUsage", args, err)
		}
	}
	for _, s := range []string{"wizard@x", "hub_admin@county"} {
		if _, err := cli.ParseGrant(s); err == nil {
			t.Errorf("ParseGrant(%q) accepted", s)
		}
	}
	if err := d.Main(context.Background(), []string{"user", "add", "-username", "x", "-role", "technician@../../etc"}, io.Discard, io.Discard); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("traversal in site: %v", err)
	}
}

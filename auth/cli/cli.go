// Package cli implements the account and audit subcommands of the huren
// binary — huren user|site|group|token|audit|bootstrap — operating on the
// same object store and state backend as the running servers. Account
// changes rewrite the change marker in storage and bump the shared
// generation, so running replicas — an embedded hub too — pick them up
// within a second. Every change is written to the audit trail.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/huren-health/huren/audit"
	"github.com/huren-health/huren/auth"
	"github.com/huren-health/huren/storage"
)

// Deps are the opened backends (the lead's wiring opens them from the same
// configuration as `huren serve`).
type Deps struct {
	Store storage.Store
	State auth.State
	// Audit records the CLI's actions. nil → a Log of its own with node
	// "cli_<host>_<time>" is opened and closed around the command.
	Audit audit.Recorder
	// Actor names who runs the command in the trail (default "cli:<OS user>").
	Actor string
	// Argon2 overrides the password hashing cost (zero → production default).
	Argon2 auth.Argon2Params
	Log    *slog.Logger
}

// ErrUsage is returned for unknown commands or bad flags (exit status 2).
var ErrUsage = errors.New("usage error")

// Usage lists every accounts/audit command (printed by huren CMD --help).
const Usage = usage

const usage = `usage:
  huren bootstrap [-user admin] [-hub-id county] [-hub-name NAME]
  huren user add -username NAME [-name FULLNAME] -role ROLE@SCOPE [-role …]
  huren user list [-json]
  huren user disable|enable|reset-password USERNAME
  huren user roles USERNAME -role ROLE@SCOPE [-role …]
  huren site add -id ID -name NAME -kind hub|township|village|other [-parent ID]
  huren site list [-json]
  huren group add -id ID -name NAME [-sites a,b]
  huren group list [-json]
  huren token create -name NAME -site ID -cap upload,read,report-delivery [-ttl 8760h]
  huren token list [-json]
  huren token revoke ID
  huren audit verify [-anchor NODE:SEQ:HASH …]
  huren audit search [-user U] [-patient P] [-site S] [-action A] [-from T] [-to T] [-limit N] [-json]
roles: technician@SITE referring_doctor@SITE site_admin@SITE reader@GROUP senior_reader@GROUP hub_admin
`

// Main runs one command. args excludes the program name, e.g.
// ["user", "add", "-username", "li.wei", "-role", "technician@town-a"].
func (d Deps) Main(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ErrUsage
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Actor == "" {
		d.Actor = "cli:" + os.Getenv("USER")
	}
	if args[0] == "audit" { // read-only: no account service, no trail of its own
		return d.auditCmd(ctx, args[1:], stdout, stderr)
	}
	if d.Audit == nil {
		host, _ := os.Hostname()
		// The command's own short chain needs no anchor line on the
		// operator's terminal; its checkpoint still vouches for the hubs.
		l, err := audit.New(d.Store, audit.Config{Node: audit.SanitizeNode(fmt.Sprintf("cli_%s_%d", host, time.Now().UnixNano())), NoAnchorLog: true}, d.Log, nil)
		if err != nil {
			return err
		}
		if err := l.Start(ctx); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, l.Close()) }()
		d.Audit = l
	}
	svc := auth.New(d.Store, d.State, auth.Config{Argon2: d.Argon2, Audit: d.Audit}, d.Log)
	if err := svc.Start(ctx, false); err != nil {
		return err
	}
	defer svc.Close()
	c := &cmd{d: d, svc: svc, out: stdout, errw: stderr}
	switch args[0] {
	case "bootstrap":
		return c.bootstrap(ctx, args[1:])
	case "user":
		return c.user(ctx, args[1:])
	case "site":
		return c.site(ctx, args[1:])
	case "group":
		return c.group(ctx, args[1:])
	case "token":
		return c.token(ctx, args[1:])
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", ErrUsage, args[0])
}

type cmd struct {
	d    Deps
	svc  *auth.Service
	out  io.Writer
	errw io.Writer
}

func (c *cmd) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.errw)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return nil
}

// record writes the command's outcome to the trail.
func (c *cmd) record(action, resource string, err error) {
	e := audit.Event{User: c.d.Actor, Action: action, Resource: resource, Outcome: audit.OK, ClientAddr: "cli"}
	if err != nil {
		e.Outcome, e.Detail = audit.Failed, err.Error()
	}
	if rerr := c.d.Audit.Record(e); rerr != nil {
		c.d.Log.Error("audit record", "err", rerr)
	}
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// ParseGrant reads "role@scope": the scope is a site id for site roles, a
// reading-group id for reader roles, and absent for hub_admin.
func ParseGrant(s string) (auth.Grant, error) {
	role, scope, _ := strings.Cut(s, "@")
	g := auth.Grant{Role: auth.Role(role)}
	switch {
	case !g.Role.Valid():
		return g, fmt.Errorf("%w: role %q", auth.ErrInvalid, role)
	case g.Role == auth.HubAdmin:
		if scope != "" {
			return g, fmt.Errorf("%w: hub_admin takes no scope", auth.ErrInvalid)
		}
	case g.Role == auth.Reader || g.Role == auth.SeniorReader:
		g.Group = strings.TrimPrefix(scope, "group:")
	default:
		g.Site = scope
	}
	return g, nil
}

func grants(roles []string) ([]auth.Grant, error) {
	var out []auth.Grant
	for _, r := range roles {
		g, err := ParseGrant(r)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// BootstrapIfNeeded creates the hub site and a hub admin with a one-time
// password on first start (no hub admin yet) and prints it to w; it does
// nothing otherwise. `huren serve` calls it after starting the Service.
func BootstrapIfNeeded(ctx context.Context, svc *auth.Service, w io.Writer) error {
	if !svc.NeedsBootstrap() {
		return nil
	}
	otp, err := svc.Bootstrap(ctx, "admin", "county", "County hub")
	if errors.Is(err, auth.ErrBootstrapped) {
		return nil // another replica won the race
	}
	if err != nil {
		return err
	}
	printOTP(w, "admin", otp)
	return nil
}

func printOTP(w io.Writer, user, otp string) {
	fmt.Fprintf(w, "\n  Huren first run: created hub administrator %q\n  one-time password: %s\n  (shown once; it must be changed at first login)\n\n", user, otp)
}

func (c *cmd) bootstrap(ctx context.Context, args []string) error {
	fs := c.flags("bootstrap")
	user := fs.String("user", "admin", "hub admin username")
	hubID := fs.String("hub-id", "county", "hub site id (created if no hub site exists)")
	hubName := fs.String("hub-name", "County hub", "hub site name")
	if err := parse(fs, args); err != nil {
		return err
	}
	otp, err := c.svc.Bootstrap(ctx, *user, *hubID, *hubName)
	c.record("admin.bootstrap", "user:"+*user, err)
	if err != nil {
		return err
	}
	printOTP(c.out, *user, otp)
	return nil
}

func (c *cmd) user(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: user add|list|disable|enable|reset-password|roles", ErrUsage)
	}
	switch args[0] {
	case "add":
		fs := c.flags("user add")
		name := fs.String("username", "", "login name")
		full := fs.String("name", "", "full name")
		var roles multi
		fs.Var(&roles, "role", "ROLE@SCOPE (repeatable)")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		gs, err := grants(roles)
		if err != nil {
			return err
		}
		u, otp, err := c.svc.AddUser(ctx, auth.NewUser{Username: *name, Name: *full, Grants: gs})
		c.record("admin.user.create", "user:"+*name, err)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.out, "created %s (%s)\none-time password: %s\n(shown once; must be changed at first login)\n", u.Username, strings.Join(roleList(u.Grants), " "), otp)
		return nil
	case "list":
		fs := c.flags("user list")
		asJSON := fs.Bool("json", false, "JSON output")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		us := c.svc.Users()
		if *asJSON {
			for i := range us {
				us[i].PasswordHash = ""
			}
			return printJSON(c.out, us)
		}
		tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tNAME\tROLES\tSTATE")
		for _, u := range us {
			state := "active"
			if u.Disabled {
				state = "disabled"
			} else if u.MustChange {
				state = "must-change-password"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Username, u.Name, strings.Join(roleList(u.Grants), " "), state)
		}
		return tw.Flush()
	case "disable", "enable", "reset-password":
		if len(args) != 2 {
			return fmt.Errorf("%w: user %s USERNAME", ErrUsage, args[0])
		}
		name := args[1]
		if args[0] == "reset-password" {
			otp, err := c.svc.ResetPassword(ctx, name)
			c.record("admin.user.reset-password", "user:"+name, err)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.out, "one-time password for %s: %s\n(shown once; must be changed at next login)\n", name, otp)
			return nil
		}
		_, err := c.svc.SetDisabled(ctx, name, args[0] == "disable")
		c.record("admin.user."+args[0], "user:"+name, err)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.out, "%sd %s\n", args[0], name)
		return nil
	case "roles":
		if len(args) < 2 {
			return fmt.Errorf("%w: user roles USERNAME -role …", ErrUsage)
		}
		fs := c.flags("user roles")
		var roles multi
		fs.Var(&roles, "role", "ROLE@SCOPE (repeatable)")
		if err := parse(fs, args[2:]); err != nil {
			return err
		}
		gs, err := grants(roles)
		if err != nil {
			return err
		}
		u, err := c.svc.SetGrants(ctx, args[1], gs)
		c.record("admin.user.roles", "user:"+args[1], err)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.out, "%s: %s\n", u.Username, strings.Join(roleList(u.Grants), " "))
		return nil
	}
	return fmt.Errorf("%w: user %s", ErrUsage, args[0])
}

func roleList(gs []auth.Grant) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.String()
	}
	return out
}

func (c *cmd) site(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: site add|list", ErrUsage)
	}
	switch args[0] {
	case "add":
		fs := c.flags("site add")
		id := fs.String("id", "", "site id (a-z 0-9 -)")
		name := fs.String("name", "", "display name")
		kind := fs.String("kind", "township", "hub, township, village or other")
		parent := fs.String("parent", "", "parent site id")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		s, err := c.svc.AddSite(ctx, auth.Site{ID: *id, Name: *name, Kind: auth.SiteKind(*kind), Parent: *parent})
		c.record("admin.site.create", "site:"+*id, err)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.out, "created site %s (%s)\n", s.ID, s.Kind)
		return nil
	case "list":
		fs := c.flags("site list")
		asJSON := fs.Bool("json", false, "JSON output")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(c.out, c.svc.Sites())
		}
		tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tPARENT\tNAME")
		for _, s := range c.svc.Sites() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.ID, s.Kind, s.Parent, s.Name)
		}
		return tw.Flush()
	}
	return fmt.Errorf("%w: site %s", ErrUsage, args[0])
}

func (c *cmd) group(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: group add|list", ErrUsage)
	}
	switch args[0] {
	case "add":
		fs := c.flags("group add")
		id := fs.String("id", "", "group id")
		name := fs.String("name", "", "display name")
		sites := fs.String("sites", "", "comma-separated sites it reads for (empty = all)")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		var ss []string
		for _, s := range strings.Split(*sites, ",") {
			if s = strings.TrimSpace(s); s != "" {
				ss = append(ss, s)
			}
		}
		g, err := c.svc.AddGroup(ctx, auth.Group{ID: *id, Name: *name, Sites: ss})
		c.record("admin.group.create", "group:"+*id, err)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.out, "created group %s\n", g.ID)
		return nil
	case "list":
		fs := c.flags("group list")
		asJSON := fs.Bool("json", false, "JSON output")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(c.out, c.svc.Groups())
		}
		tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSITES\tNAME")
		for _, g := range c.svc.Groups() {
			sites := strings.Join(g.Sites, ",")
			if sites == "" {
				sites = "(all)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", g.ID, sites, g.Name)
		}
		return tw.Flush()
	}
	return fmt.Errorf("%w: group %s", ErrUsage, args[0])
}

func (c *cmd) token(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: token create|list|revoke", ErrUsage)
	}
	switch args[0] {
	case "create":
		fs := c.flags("token create")
		name := fs.String("name", "", "what the token is for (device, agent)")
		site := fs.String("site", "", "site id")
		caps := fs.String("cap", "", "capabilities: upload,read,report-delivery")
		ttl := fs.Duration("ttl", 0, "lifetime (0 = until revoked)")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		var cs []auth.Capability
		for _, s := range strings.Split(*caps, ",") {
			if s = strings.TrimSpace(s); s != "" {
				cs = append(cs, auth.Capability(s))
			}
		}
		t, secret, err := c.svc.CreateToken(ctx, auth.NewToken{Name: *name, Site: *site, Capabilities: cs, TTL: *ttl, CreatedBy: c.d.Actor})
		c.record("admin.token.create", "token:"+t.ID, err)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.out, "token %s for %s at %s\nsecret (shown once): %s\n", t.ID, t.Name, t.Site, secret)
		return nil
	case "list":
		fs := c.flags("token list")
		asJSON := fs.Bool("json", false, "JSON output")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		ts, err := c.svc.Tokens(ctx)
		if err != nil {
			return err
		}
		for i := range ts {
			ts[i].SecretSHA256 = ""
		}
		if *asJSON {
			return printJSON(c.out, ts)
		}
		tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSITE\tCAPABILITIES\tSTATE\tLAST USED\tNAME")
		for _, t := range ts {
			state := "active"
			if !t.Active {
				state = "revoked/expired"
			}
			last := "never"
			if !t.LastUsed.IsZero() {
				last = t.LastUsed.Local().Format(time.DateTime)
			}
			caps := make([]string, len(t.Capabilities))
			for i, cp := range t.Capabilities {
				caps[i] = string(cp)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Site, strings.Join(caps, ","), state, last, t.Name)
		}
		return tw.Flush()
	case "revoke":
		if len(args) != 2 {
			return fmt.Errorf("%w: token revoke ID", ErrUsage)
		}
		_, err := c.svc.RevokeToken(ctx, args[1])
		c.record("admin.token.revoke", "token:"+args[1], err)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.out, "revoked %s\n", args[1])
		return nil
	}
	return fmt.Errorf("%w: token %s", ErrUsage, args[0])
}

func (d Deps) auditCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: audit verify|search", ErrUsage)
	}
	switch args[0] {
	case "verify":
		fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
		fs.SetOutput(stderr)
		var anchors multi
		fs.Var(&anchors, "anchor", "NODE:SEQ:HASH from a hub's \"audit checkpoint\" log line, kept off the hub (repeatable): must still be in the trail")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		var opts audit.VerifyOptions
		for _, a := range anchors {
			c, err := audit.ParseClaim(a)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrUsage, err)
			}
			opts.Anchors = append(opts.Anchors, c)
		}
		rep, err := audit.Verify(ctx, d.Store, opts)
		fmt.Fprintf(stdout, "audit trail: %d node(s), %d segment(s), %d record(s), %d cross-node claim(s) and anchor(s) checked\n", rep.Nodes, rep.Segments, rep.Records, rep.Claims)
		for _, p := range rep.Problems {
			fmt.Fprintf(stdout, "PROBLEM: %s\n", p)
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, "OK: every chain verifies")
		return nil
	case "search":
		fs := flag.NewFlagSet("audit search", flag.ContinueOnError)
		fs.SetOutput(stderr)
		var q audit.Query
		fs.StringVar(&q.User, "user", "", "username or token:<id>")
		fs.StringVar(&q.Patient, "patient", "", "patient id")
		fs.StringVar(&q.Site, "site", "", "site id")
		fs.StringVar(&q.Action, "action", "", "action (prefix with trailing *)")
		fs.StringVar(&q.Outcome, "outcome", "", "ok, denied or failed")
		from := fs.String("from", "", "RFC 3339 time or YYYY-MM-DD")
		to := fs.String("to", "", "RFC 3339 time or YYYY-MM-DD (exclusive)")
		fs.IntVar(&q.Limit, "limit", 100, "at most this many (newest first)")
		asJSON := fs.Bool("json", false, "JSON lines output")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		var err error
		if q.From, err = parseTime(*from); err != nil {
			return err
		}
		if q.To, err = parseTime(*to); err != nil {
			return err
		}
		recs, err := audit.Search(ctx, d.Store, q)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			for _, r := range recs {
				if err := enc.Encode(r); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tUSER\tSITE\tACTION\tRESOURCE\tPATIENT\tOUTCOME\tADDR")
		for _, r := range recs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.Local().Format(time.DateTime), r.User, r.Site, r.Action, r.Resource, r.Patient, r.Outcome, r.ClientAddr)
		}
		return tw.Flush()
	}
	return fmt.Errorf("%w: audit %s", ErrUsage, args[0])
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation("2006-01-02", s, time.Local)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: time %q (want RFC 3339 or YYYY-MM-DD)", ErrUsage, s)
	}
	return t, nil
}

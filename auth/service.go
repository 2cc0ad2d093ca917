package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/huren-health/huren/audit"
	"github.com/huren-health/huren/storage"
)

// Config tunes the Service. Zero fields take the defaults of Defaults().
type Config struct {
	Argon2 Argon2Params
	// SessionIdle logs out after this much inactivity; SessionMax after this
	// long whatever the activity.
	SessionIdle time.Duration
	SessionMax  time.Duration
	// LockoutThreshold failed logins for one username within LockoutWindow
	// lock that username for the rest of the window (whatever the password);
	// IPThreshold does the same per client address.
	LockoutThreshold int64
	IPThreshold      int64
	LockoutWindow    time.Duration
	// RefreshInterval is how often a replica checks the shared generation
	// for account changes made elsewhere.
	RefreshInterval time.Duration
	// MaxConcurrentHashes bounds simultaneous argon2id computations (each
	// takes Argon2.Memory KiB), so a login flood cannot exhaust memory.
	MaxConcurrentHashes int
	// SecureCookies forces the Secure cookie flag even when the request
	// arrived without TLS (TLS terminated by a proxy in front of Huren).
	SecureCookies bool
	// Audit receives login, logout, password and admin events. nil → discard.
	Audit audit.Recorder
	// Now is the clock (tests); nil → time.Now.
	Now func() time.Time
}

// Defaults returns the production settings.
func Defaults() Config {
	return Config{
		Argon2:              DefaultArgon2,
		SessionIdle:         2 * time.Hour,
		SessionMax:          12 * time.Hour,
		LockoutThreshold:    5,
		IPThreshold:         50,
		LockoutWindow:       15 * time.Minute,
		RefreshInterval:     time.Second,
		MaxConcurrentHashes: 4,
	}
}

func (c Config) withDefaults() Config {
	d := Defaults()
	if c.Argon2 == (Argon2Params{}) {
		c.Argon2 = d.Argon2
	}
	if c.SessionIdle <= 0 {
		c.SessionIdle = d.SessionIdle
	}
	if c.SessionMax <= 0 {
		c.SessionMax = d.SessionMax
	}
	if c.LockoutThreshold <= 0 {
		c.LockoutThreshold = d.LockoutThreshold
	}
	if c.IPThreshold <= 0 {
		c.IPThreshold = d.IPThreshold
	}
	if c.LockoutWindow <= 0 {
		c.LockoutWindow = d.LockoutWindow
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = d.RefreshInterval
	}
	if c.MaxConcurrentHashes <= 0 {
		c.MaxConcurrentHashes = d.MaxConcurrentHashes
	}
	if c.Audit == nil {
		c.Audit = audit.Discard{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Service manages accounts, sessions and tokens. Construct with New (no
// I/O), then Start (loads the directory, starts the refresher), Close.
type Service struct {
	cfg    Config
	store  storage.Store
	state  State
	log    *slog.Logger
	dir    *directory
	hashes chan struct{}
	dummy  string // hash checked for unknown users, so timing does not reveal them

	touched sync.Map // session key → time.Time of the last TouchSession by this replica
	// sessions caches State lookups for at most RefreshInterval, the same
	// bound that already applies to revocations seen through the directory;
	// a logout on this replica drops its entry at once.
	sessions sync.Map // session key → cachedSession
	used     sync.Map // token id → time.Time of the last SetTokenUsed by this replica

	stop   context.CancelFunc
	done   chan struct{}
	closed sync.Once
}

// New builds a Service over the durable store and the shared state.
// log may be nil (silent).
func New(store storage.Store, state State, cfg Config, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "auth")
	cfg = cfg.withDefaults()
	return &Service{
		cfg: cfg, store: store, state: state, log: log,
		dir:    &directory{store: store, log: log},
		hashes: make(chan struct{}, cfg.MaxConcurrentHashes),
	}
}

// Start loads the account records and, if refresh is true, starts a
// goroutine that reloads them whenever the shared generation changes
// (servers: true; one-shot CLI commands: false).
func (s *Service) Start(ctx context.Context, refresh bool) error {
	dummy, err := dummyHash(s.cfg.Argon2)
	if err != nil {
		return err
	}
	s.dummy = dummy
	gen, err := s.state.Generation(ctx)
	if err != nil {
		return fmt.Errorf("auth start: %w", err)
	}
	if err := s.dir.reload(ctx, gen); err != nil {
		return fmt.Errorf("auth start: load accounts: %w", err)
	}
	if refresh {
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		s.stop = cancel
		s.done = make(chan struct{})
		go s.refresher(rctx)
	}
	return nil
}

func (s *Service) refresher(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("account refresh failed; serving the previous snapshot", "err", err)
		}
		s.pruneThrottles()
	}
}

// Refresh reloads the directory if the shared generation or the change
// marker in storage moved. The marker is what a process with its own
// in-process State (the CLI beside an embedded hub) can move, and it
// survives a Redis wipe that resets the generation; the generation is one
// Redis read and announces a change even if a storage Stat lags.
func (s *Service) Refresh(ctx context.Context) error {
	gen, err := s.state.Generation(ctx)
	if err != nil {
		return err
	}
	marker, err := markerVersion(ctx, s.store)
	if err != nil {
		return err
	}
	if cur := s.dir.current(); gen == cur.gen && marker == cur.marker {
		return nil
	}
	return s.dir.reload(ctx, gen)
}

func (s *Service) pruneThrottles() {
	cutoff := s.cfg.Now().Add(-s.cfg.SessionIdle)
	prune := func(m *sync.Map) {
		m.Range(func(k, v any) bool {
			if v.(time.Time).Before(cutoff) {
				m.Delete(k)
			}
			return true
		})
	}
	prune(&s.touched)
	prune(&s.used)
	stale := s.cfg.Now().Add(-s.cfg.RefreshInterval)
	s.sessions.Range(func(k, v any) bool {
		if v.(cachedSession).at.Before(stale) {
			s.sessions.Delete(k)
		}
		return true
	})
}

type cachedSession struct {
	s  Session
	at time.Time
}

// Close stops the refresher. Safe to call twice.
func (s *Service) Close() error {
	s.closed.Do(func() {
		if s.stop != nil {
			s.stop()
			<-s.done
		}
	})
	return nil
}

// changed rewrites the change marker in storage, bumps the shared
// generation and reloads this replica at once, so the writer sees its own
// change immediately and every other process within RefreshInterval.
func (s *Service) changed(ctx context.Context) error {
	if err := markChanged(ctx, s.store, s.cfg.Now()); err != nil {
		return fmt.Errorf("account change saved but not announced to replicas: %w", err)
	}
	gen, err := s.state.BumpGeneration(ctx)
	if err != nil {
		return fmt.Errorf("account change saved but not announced to replicas: %w", err)
	}
	return s.dir.reload(ctx, gen)
}

func (s *Service) record(e audit.Event) {
	if e.Time.IsZero() {
		e.Time = s.cfg.Now()
	}
	if err := s.cfg.Audit.Record(e); err != nil {
		s.log.Error("audit record failed", "action", e.Action, "err", err)
	}
}

// hash runs argon2id under the concurrency bound.
func (s *Service) hash(ctx context.Context, pw string) (string, error) {
	select {
	case s.hashes <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.hashes }()
	return HashPassword(pw, s.cfg.Argon2)
}

func (s *Service) check(ctx context.Context, pw, phc string) (bool, error) {
	select {
	case s.hashes <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-s.hashes }()
	return CheckPassword(pw, phc)
}

// ---- sites and groups ----

// AddSite creates a site. The first site must be the hub (no parent); every
// other site needs an existing parent.
func (s *Service) AddSite(ctx context.Context, st Site) (Site, error) {
	if err := ValidID(st.ID); err != nil {
		return Site{}, err
	}
	st.Name = strings.TrimSpace(st.Name)
	if st.Name == "" || len(st.Name) > 200 {
		return Site{}, fmt.Errorf("%w: site name must be 1-200 bytes", ErrInvalid)
	}
	snap := s.dir.current()
	switch st.Kind {
	case Hub:
		if st.Parent != "" {
			return Site{}, fmt.Errorf("%w: the hub site has no parent", ErrInvalid)
		}
		for _, o := range snap.sites {
			if o.Kind == Hub {
				return Site{}, fmt.Errorf("%w: hub site %q already exists", ErrExists, o.ID)
			}
		}
	case Township, Village, Other:
		if _, ok := snap.sites[st.Parent]; !ok {
			return Site{}, fmt.Errorf("%w: parent site %q does not exist", ErrInvalid, st.Parent)
		}
	default:
		return Site{}, fmt.Errorf("%w: site kind %q (want hub, township, village or other)", ErrInvalid, st.Kind)
	}
	st.Created = s.cfg.Now().UTC()
	if err := putJSON(ctx, s.store, siteKey(st.ID), st, true); err != nil {
		return Site{}, err
	}
	return st, s.changed(ctx)
}

// Sites lists every site sorted by id.
func (s *Service) Sites() []Site {
	snap := s.dir.current()
	out := make([]Site, 0, len(snap.sites))
	for _, v := range snap.sites {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Site returns one site.
func (s *Service) Site(id string) (Site, error) {
	v, ok := s.dir.current().sites[id]
	if !ok {
		return Site{}, fmt.Errorf("site %q: %w", id, ErrNotFound)
	}
	return *v, nil
}

// AddGroup creates a reading group; Sites must exist (empty = all sites).
func (s *Service) AddGroup(ctx context.Context, g Group) (Group, error) {
	if err := ValidID(g.ID); err != nil {
		return Group{}, err
	}
	g.Name = strings.TrimSpace(g.Name)
	if g.Name == "" || len(g.Name) > 200 {
		return Group{}, fmt.Errorf("%w: group name must be 1-200 bytes", ErrInvalid)
	}
	snap := s.dir.current()
	for _, id := range g.Sites {
		if _, ok := snap.sites[id]; !ok {
			return Group{}, fmt.Errorf("%w: site %q does not exist", ErrInvalid, id)
		}
	}
	g.Created = s.cfg.Now().UTC()
	if err := putJSON(ctx, s.store, groupKey(g.ID), g, true); err != nil {
		return Group{}, err
	}
	return g, s.changed(ctx)
}

// Groups lists every reading group sorted by id.
func (s *Service) Groups() []Group {
	snap := s.dir.current()
	out := make([]Group, 0, len(snap.groups))
	for _, v := range snap.groups {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ---- users ----

// NewUser describes an account to create. An empty Password generates a
// one-time password the user must change at first login.
type NewUser struct {
	Username string  `json:"username"`
	Name     string  `json:"name"`
	Password string  `json:"password,omitempty"`
	Grants   []Grant `json:"grants"`
}

// ValidateGrants checks that every grant names an existing site or group
// of the right kind for its role.
func (s *Service) ValidateGrants(grants []Grant) error {
	snap := s.dir.current()
	if len(grants) == 0 {
		return fmt.Errorf("%w: at least one role is required", ErrInvalid)
	}
	for _, g := range grants {
		if !g.Role.Valid() {
			return fmt.Errorf("%w: role %q", ErrInvalid, g.Role)
		}
		switch {
		case g.Role == HubAdmin:
			if g.Group != "" || g.Site != "" {
				return fmt.Errorf("%w: hub_admin takes no site or group", ErrInvalid)
			}
		case g.Role.groupRole():
			if _, ok := snap.groups[g.Group]; !ok || g.Site != "" {
				return fmt.Errorf("%w: %s needs an existing reading group (got group %q)", ErrInvalid, g.Role, g.Group)
			}
		default:
			if _, ok := snap.sites[g.Site]; !ok || g.Group != "" {
				return fmt.Errorf("%w: %s needs an existing site (got site %q)", ErrInvalid, g.Role, g.Site)
			}
		}
	}
	return nil
}

// AddUser creates an account and returns it with the one-time password when
// one was generated ("" otherwise).
func (s *Service) AddUser(ctx context.Context, nu NewUser) (User, string, error) {
	if err := ValidUsername(nu.Username); err != nil {
		return User{}, "", err
	}
	if len(nu.Name) > 200 {
		return User{}, "", fmt.Errorf("%w: name longer than 200 bytes", ErrInvalid)
	}
	if err := s.ValidateGrants(nu.Grants); err != nil {
		return User{}, "", err
	}
	otp := ""
	pw := nu.Password
	if pw == "" {
		var err error
		if otp, err = GeneratePassword(); err != nil {
			return User{}, "", err
		}
		pw = otp
	} else if err := ValidPassword(nu.Username, pw); err != nil {
		return User{}, "", err
	}
	h, err := s.hash(ctx, pw)
	if err != nil {
		return User{}, "", err
	}
	now := s.cfg.Now().UTC()
	u := User{Username: nu.Username, Name: strings.TrimSpace(nu.Name), PasswordHash: h, Grants: slices.Clone(nu.Grants),
		MustChange: otp != "", Epoch: 1, Created: now, Updated: now}
	if err := putJSON(ctx, s.store, userKey(u.Username), u, true); err != nil {
		return User{}, "", err
	}
	return u, otp, s.changed(ctx)
}

// Users lists every account sorted by username.
func (s *Service) Users() []User {
	snap := s.dir.current()
	out := make([]User, 0, len(snap.users))
	for _, v := range snap.users {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out
}

// User returns one account.
func (s *Service) User(username string) (User, error) {
	v, ok := s.dir.current().users[username]
	if !ok {
		return User{}, fmt.Errorf("user %q: %w", username, ErrNotFound)
	}
	return *v, nil
}

// updateUser re-reads the record from storage (the source of truth, not the
// snapshot), applies fn and writes it back.
func (s *Service) updateUser(ctx context.Context, username string, fn func(*User) error) (User, error) {
	if ValidUsername(username) != nil {
		return User{}, fmt.Errorf("user %q: %w", username, ErrNotFound)
	}
	var u User
	if err := getJSON(ctx, s.store, userKey(username), &u); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return User{}, fmt.Errorf("user %q: %w", username, ErrNotFound)
		}
		return User{}, err
	}
	if err := fn(&u); err != nil {
		return User{}, err
	}
	u.Updated = s.cfg.Now().UTC()
	if err := putJSON(ctx, s.store, userKey(username), u, false); err != nil {
		return User{}, err
	}
	return u, s.changed(ctx)
}

// SetDisabled disables or re-enables an account; disabling ends its sessions.
func (s *Service) SetDisabled(ctx context.Context, username string, disabled bool) (User, error) {
	return s.updateUser(ctx, username, func(u *User) error {
		u.Disabled = disabled
		u.Epoch++
		return nil
	})
}

// SetGrants replaces an account's roles.
func (s *Service) SetGrants(ctx context.Context, username string, grants []Grant) (User, error) {
	if err := s.ValidateGrants(grants); err != nil {
		return User{}, err
	}
	return s.updateUser(ctx, username, func(u *User) error {
		u.Grants = slices.Clone(grants)
		return nil
	})
}

// ResetPassword sets a new one-time password (returned) that must be changed
// at next login, and ends the account's sessions.
func (s *Service) ResetPassword(ctx context.Context, username string) (string, error) {
	otp, err := GeneratePassword()
	if err != nil {
		return "", err
	}
	h, err := s.hash(ctx, otp)
	if err != nil {
		return "", err
	}
	_, err = s.updateUser(ctx, username, func(u *User) error {
		u.PasswordHash, u.MustChange = h, true
		u.Epoch++
		return nil
	})
	if err != nil {
		return "", err
	}
	if err := s.state.ResetFailures(ctx, "user:"+username); err != nil {
		s.log.Warn("reset lockout counter", "user", username, "err", err)
	}
	return otp, nil
}

// ChangePassword verifies the old password, sets the new one, clears
// MustChange and ends every other session (the epoch moves); it returns a
// fresh session for the caller.
func (s *Service) ChangePassword(ctx context.Context, username, oldPW, newPW, addr string) (string, Session, error) {
	u, err := s.User(username)
	if err != nil {
		return "", Session{}, ErrBadCredentials
	}
	// Guessing the current password through a stolen session counts
	// towards the same lockout as login.
	if n, err := s.state.Failures(ctx, "user:"+username); err != nil {
		return "", Session{}, err
	} else if n >= s.cfg.LockoutThreshold {
		return "", Session{}, ErrLockedOut
	}
	ok, err := s.check(ctx, oldPW, u.PasswordHash)
	if err != nil || !ok {
		if _, err := s.state.AddFailure(ctx, "user:"+username, s.cfg.LockoutWindow); err != nil {
			s.log.Warn("count password failure", "err", err)
		}
		s.record(audit.Event{User: username, Action: "auth.password.change", Resource: "user:" + username, Outcome: audit.Denied, ClientAddr: addr, Detail: "wrong current password"})
		return "", Session{}, ErrWrongPassword
	}
	if err := ValidPassword(username, newPW); err != nil {
		return "", Session{}, err
	}
	if newPW == oldPW {
		return "", Session{}, fmt.Errorf("%w: the new password must differ from the old one", ErrWeakPassword)
	}
	h, err := s.hash(ctx, newPW)
	if err != nil {
		return "", Session{}, err
	}
	u, err = s.updateUser(ctx, username, func(u *User) error {
		u.PasswordHash, u.MustChange = h, false
		u.Epoch++
		return nil
	})
	if err != nil {
		return "", Session{}, err
	}
	s.record(audit.Event{User: username, Action: "auth.password.change", Resource: "user:" + username, Outcome: audit.OK, ClientAddr: addr})
	return s.newSession(ctx, &u, addr)
}

// Bootstrap creates the hub site (if missing) and a hub admin with a
// one-time password, the first time only: once any hub admin exists it
// fails with ErrBootstrapped. Never a fixed default password.
func (s *Service) Bootstrap(ctx context.Context, username, hubID, hubName string) (string, error) {
	for _, u := range s.dir.current().users {
		for _, g := range u.Grants {
			if g.Role == HubAdmin {
				return "", ErrBootstrapped
			}
		}
	}
	hasHub := false
	for _, st := range s.dir.current().sites {
		hasHub = hasHub || st.Kind == Hub
	}
	if !hasHub {
		if _, err := s.AddSite(ctx, Site{ID: hubID, Name: hubName, Kind: Hub}); err != nil {
			return "", fmt.Errorf("bootstrap hub site: %w", err)
		}
	}
	_, otp, err := s.AddUser(ctx, NewUser{Username: username, Name: "Hub administrator", Grants: []Grant{{Role: HubAdmin}}})
	if err != nil {
		return "", fmt.Errorf("bootstrap admin: %w", err)
	}
	s.record(audit.Event{User: "system", Action: "admin.bootstrap", Resource: "user:" + username, Outcome: audit.OK})
	return otp, nil
}

// NeedsBootstrap reports whether no hub admin exists yet.
func (s *Service) NeedsBootstrap() bool {
	for _, u := range s.dir.current().users {
		for _, g := range u.Grants {
			if g.Role == HubAdmin {
				return false
			}
		}
	}
	return true
}

// ---- login and sessions ----

func sessionKey(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (s *Service) newSession(ctx context.Context, u *User, addr string) (string, Session, error) {
	id, err := randomString(32)
	if err != nil {
		return "", Session{}, err
	}
	csrf, err := randomString(32)
	if err != nil {
		return "", Session{}, err
	}
	now := s.cfg.Now().UTC()
	sess := Session{Username: u.Username, Epoch: u.Epoch, CSRF: csrf, Created: now, Expires: now.Add(s.cfg.SessionMax), Addr: addr}
	if err := s.state.PutSession(ctx, sessionKey(id), sess, s.cfg.SessionIdle); err != nil {
		return "", Session{}, fmt.Errorf("store session: %w", err)
	}
	s.touched.Store(sessionKey(id), now)
	return id, sess, nil
}

// Login checks a username and password and opens a session, returning the
// cookie value (the session id) and the session. Failures are counted per
// username and per client address; past the thresholds the username or
// address is locked out for the rest of the window with ErrLockedOut, even
// with the right password. Unknown users, disabled users and wrong
// passwords all give ErrBadCredentials after the same argon2id work.
func (s *Service) Login(ctx context.Context, username, password, addr string) (string, Session, error) {
	username = strings.ToLower(strings.TrimSpace(username))
	userKey, ipKey := "user:"+username, "ip:"+addr
	if len(username) > 64 || len(password) > 256 {
		s.record(audit.Event{Action: "auth.login", Outcome: audit.Denied, ClientAddr: addr, Detail: "oversized credentials"})
		return "", Session{}, ErrBadCredentials
	}
	nu, err := s.state.Failures(ctx, userKey)
	if err != nil {
		return "", Session{}, err
	}
	ni, err := s.state.Failures(ctx, ipKey)
	if err != nil {
		return "", Session{}, err
	}
	if nu >= s.cfg.LockoutThreshold || ni >= s.cfg.IPThreshold {
		s.record(audit.Event{Action: "auth.login", Resource: "user:" + username, Outcome: audit.Denied, ClientAddr: addr, Detail: "locked out"})
		return "", Session{}, ErrLockedOut
	}
	u, known := s.dir.current().users[username]
	phc := s.dummy
	if known {
		phc = u.PasswordHash
	}
	ok, err := s.check(ctx, password, phc)
	if err != nil && known {
		s.log.Error("stored password hash unreadable", "user", username, "err", err)
	}
	if !known || !ok || err != nil || u.Disabled {
		_, e1 := s.state.AddFailure(ctx, userKey, s.cfg.LockoutWindow)
		_, e2 := s.state.AddFailure(ctx, ipKey, s.cfg.LockoutWindow)
		if e := errors.Join(e1, e2); e != nil {
			s.log.Warn("count login failure", "err", e)
		}
		detail := "wrong password"
		switch {
		case !known:
			detail = "unknown user"
		case u.Disabled:
			detail = "disabled user"
		}
		s.record(audit.Event{Action: "auth.login", Resource: "user:" + username, Outcome: audit.Denied, ClientAddr: addr, Detail: detail})
		return "", Session{}, ErrBadCredentials
	}
	if err := s.state.ResetFailures(ctx, userKey); err != nil {
		s.log.Warn("reset login failures", "err", err)
	}
	id, sess, err := s.newSession(ctx, u, addr)
	if err != nil {
		return "", Session{}, err
	}
	home := (&Principal{Kind: KindUser, Grants: u.Grants}).HomeSite()
	s.record(audit.Event{User: username, Roles: grantStrings(u.Grants), Site: home, Action: "auth.login", Resource: "user:" + username, Outcome: audit.OK, ClientAddr: addr})
	return id, sess, nil
}

// Logout ends a session. Unknown ids are not an error.
func (s *Service) Logout(ctx context.Context, sessionID string) error {
	k := sessionKey(sessionID)
	s.touched.Delete(k)
	s.sessions.Delete(k)
	return s.state.DeleteSession(ctx, k)
}

// SessionPrincipal validates a session cookie value and returns its
// principal: the session must exist, be within its absolute lifetime, and
// belong to an enabled user whose epoch has not moved since login. A
// session looked up in State is reused by this replica for up to
// RefreshInterval, so a logout on another replica takes effect here within
// that bound (the same as revocations and disables).
func (s *Service) SessionPrincipal(ctx context.Context, sessionID string) (*Principal, error) {
	if len(sessionID) != 43 { // base64url of 32 bytes
		return nil, ErrSessionNotFound
	}
	k := sessionKey(sessionID)
	now := s.cfg.Now()
	var sess Session
	if c, ok := s.sessions.Load(k); ok && now.Sub(c.(cachedSession).at) < s.cfg.RefreshInterval {
		sess = c.(cachedSession).s
	} else {
		var err error
		if sess, err = s.state.GetSession(ctx, k); err != nil {
			s.sessions.Delete(k)
			return nil, err
		}
		s.sessions.Store(k, cachedSession{s: sess, at: now})
	}
	u, ok := s.dir.current().users[sess.Username]
	if !now.Before(sess.Expires) || !ok || u.Disabled || u.Epoch != sess.Epoch {
		s.sessions.Delete(k)
		_ = s.state.DeleteSession(ctx, k)
		return nil, ErrSessionNotFound
	}
	// Extend the idle timeout at most every tenth of it: one State write per
	// session per few minutes instead of one per request.
	last, _ := s.touched.Load(k)
	if lt, ok := last.(time.Time); !ok || now.Sub(lt) > s.cfg.SessionIdle/10 {
		s.touched.Store(k, now)
		if err := s.state.TouchSession(ctx, k, s.cfg.SessionIdle); err != nil {
			return nil, err
		}
	}
	return &Principal{Kind: KindUser, Name: u.Username, DisplayName: u.Name, Grants: u.Grants,
		MustChange: u.MustChange, SessionID: sessionID, CSRF: sess.CSRF}, nil
}

// ---- tokens ----

// NewToken describes a bearer token to create.
type NewToken struct {
	Name         string        `json:"name"`
	Site         string        `json:"site"`
	Capabilities []Capability  `json:"capabilities"`
	TTL          time.Duration `json:"ttl,omitempty"` // 0 = no expiry
	CreatedBy    string        `json:"-"`
}

const tokenPrefix = "hrn_"

// CreateToken makes a token and returns it with the secret bearer string,
// which is shown once and never stored.
func (s *Service) CreateToken(ctx context.Context, nt NewToken) (Token, string, error) {
	nt.Name = strings.TrimSpace(nt.Name)
	if nt.Name == "" || len(nt.Name) > 200 {
		return Token{}, "", fmt.Errorf("%w: token name must be 1-200 bytes", ErrInvalid)
	}
	if _, ok := s.dir.current().sites[nt.Site]; !ok {
		return Token{}, "", fmt.Errorf("%w: site %q does not exist", ErrInvalid, nt.Site)
	}
	if len(nt.Capabilities) == 0 {
		return Token{}, "", fmt.Errorf("%w: at least one capability (upload, read, report-delivery)", ErrInvalid)
	}
	for _, c := range nt.Capabilities {
		if !slices.Contains(Capabilities, c) {
			return Token{}, "", fmt.Errorf("%w: capability %q (want upload, read or report-delivery)", ErrInvalid, c)
		}
	}
	if nt.TTL < 0 {
		return Token{}, "", fmt.Errorf("%w: negative ttl", ErrInvalid)
	}
	idb := make([]byte, 8)
	if _, err := rand.Read(idb); err != nil {
		return Token{}, "", err
	}
	secret, err := randomString(32)
	if err != nil {
		return Token{}, "", err
	}
	sum := sha256.Sum256([]byte(secret))
	now := s.cfg.Now().UTC()
	t := Token{ID: hex.EncodeToString(idb), Name: nt.Name, Site: nt.Site, Capabilities: slices.Clone(nt.Capabilities),
		SecretSHA256: hex.EncodeToString(sum[:]), CreatedBy: nt.CreatedBy, Created: now}
	if nt.TTL > 0 {
		t.Expires = now.Add(nt.TTL)
	}
	if err := putJSON(ctx, s.store, tokenKey(t.ID), t, true); err != nil {
		return Token{}, "", err
	}
	return t, tokenPrefix + t.ID + "_" + secret, s.changed(ctx)
}

// TokenView is a token with its last-use time, for listings.
type TokenView struct {
	Token
	LastUsed time.Time `json:"last_used,omitzero"`
	Active   bool      `json:"active"`
}

// Tokens lists every token (secrets are never available) sorted by id.
func (s *Service) Tokens(ctx context.Context) ([]TokenView, error) {
	snap := s.dir.current()
	ids := make([]string, 0, len(snap.tokens))
	for id := range snap.tokens {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	used, err := s.state.TokensUsed(ctx, ids)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	out := make([]TokenView, 0, len(ids))
	for _, id := range ids {
		t := snap.tokens[id]
		out = append(out, TokenView{Token: *t, LastUsed: used[id], Active: t.Active(now)})
	}
	return out, nil
}

// Token returns one token record.
func (s *Service) Token(id string) (Token, error) {
	t, ok := s.dir.current().tokens[id]
	if !ok {
		return Token{}, fmt.Errorf("token %q: %w", id, ErrNotFound)
	}
	return *t, nil
}

// RevokeToken marks a token revoked (kept for the record). Revoking twice
// is not an error.
func (s *Service) RevokeToken(ctx context.Context, id string) (Token, error) {
	if len(id) != 16 {
		return Token{}, fmt.Errorf("token %q: %w", id, ErrNotFound)
	}
	if _, err := hex.DecodeString(id); err != nil {
		return Token{}, fmt.Errorf("token %q: %w", id, ErrNotFound)
	}
	var t Token
	if err := getJSON(ctx, s.store, tokenKey(id), &t); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return Token{}, fmt.Errorf("token %q: %w", id, ErrNotFound)
		}
		return Token{}, err
	}
	if !t.Revoked.IsZero() {
		return t, nil
	}
	t.Revoked = s.cfg.Now().UTC()
	if err := putJSON(ctx, s.store, tokenKey(id), t, false); err != nil {
		return Token{}, err
	}
	return t, s.changed(ctx)
}

// TokenPrincipal validates a bearer string "hrn_<id>_<secret>".
func (s *Service) TokenPrincipal(ctx context.Context, bearer string) (*Principal, error) {
	if len(bearer) != len(tokenPrefix)+16+1+43 || !strings.HasPrefix(bearer, tokenPrefix) || bearer[len(tokenPrefix)+16] != '_' {
		return nil, fmt.Errorf("%w: malformed bearer token", ErrUnauthenticated)
	}
	id, secret := bearer[len(tokenPrefix):len(tokenPrefix)+16], bearer[len(tokenPrefix)+17:]
	t, ok := s.dir.current().tokens[id]
	sum := sha256.Sum256([]byte(secret))
	want := make([]byte, 32)
	if ok {
		if w, err := hex.DecodeString(t.SecretSHA256); err == nil && len(w) == 32 {
			want = w
		}
	}
	now := s.cfg.Now()
	if subtle.ConstantTimeCompare(sum[:], want) != 1 || !ok || !t.Active(now) {
		return nil, fmt.Errorf("%w: unknown, expired or revoked token", ErrUnauthenticated)
	}
	last, _ := s.used.Load(id)
	if lt, ok := last.(time.Time); !ok || now.Sub(lt) > time.Minute {
		s.used.Store(id, now)
		// Last-use is informational: never make the request wait for it.
		go func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := s.state.SetTokenUsed(ctx, id, now); err != nil {
				s.log.Warn("record token use", "token", id, "err", err)
			}
		}()
	}
	return &Principal{Kind: KindToken, Name: "token:" + t.ID, DisplayName: t.Name, TokenSite: t.Site, Capabilities: t.Capabilities}, nil
}

func grantStrings(gs []Grant) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.String()
	}
	return out
}

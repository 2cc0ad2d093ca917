package auth

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/huren-health/huren/errkind"
)

// Errors of this package. Match with errors.Is.
var (
	ErrUnauthenticated = errkind.New(errkind.Unauthenticated, "auth: authentication required")
	// ErrBadCredentials is deliberately the same answer for an unknown user,
	// a wrong password and a disabled account, so login leaks nothing.
	ErrBadCredentials = errkind.New(errkind.Unauthenticated, "auth: invalid username or password")
	ErrLockedOut      = errkind.New(errkind.TooMany, "auth: too many failed attempts; try again later")
	ErrForbidden      = errkind.New(errkind.Forbidden, "auth: not allowed")
	// ErrNotVisible is returned for resources the caller may not see: it is a
	// NotFound so a forbidden study is indistinguishable from a missing one.
	ErrNotVisible      = errkind.New(errkind.NotFound, "not found")
	ErrCSRF            = errkind.New(errkind.Forbidden, "auth: missing or invalid CSRF token (send the X-CSRF-Token header)")
	ErrMustChange      = errkind.New(errkind.Forbidden, "auth: password change required before using the API")
	ErrNotFound        = errkind.New(errkind.NotFound, "auth: no such record")
	ErrExists          = errkind.New(errkind.Conflict, "auth: already exists")
	ErrInvalid         = errkind.New(errkind.Invalid, "auth: invalid input")
	ErrWeakPassword    = errkind.New(errkind.Invalid, "auth: password must be 12 to 256 characters and not the username")
	ErrSessionNotFound = errkind.New(errkind.Unauthenticated, "auth: session expired or unknown")
	ErrWrongPassword   = errkind.New(errkind.Invalid, "auth: the current password is wrong")
	ErrBootstrapped    = errkind.New(errkind.Conflict, "auth: already bootstrapped (a hub admin exists)")
)

// Role is what a user may do; it is held at a site or a reading group.
type Role string

// The roles. A user may hold several grants.
const (
	// Technician uploads to and sees its own site's studies and reports.
	Technician Role = "technician"
	// Reader sees and claims studies routed to its reading group and writes
	// preliminary reports.
	Reader Role = "reader"
	// SeniorReader is a Reader who may also sign final reports.
	SeniorReader Role = "senior_reader"
	// ReferringDoctor sees signed reports and images of its site's patients
	// and may perform audited 互认 lookups.
	ReferringDoctor Role = "referring_doctor"
	// SiteAdmin manages users and tokens of its site and the sites below it.
	SiteAdmin Role = "site_admin"
	// HubAdmin manages everything and reads the audit trail.
	HubAdmin Role = "hub_admin"
)

// Roles lists every role, in a stable order.
var Roles = []Role{Technician, Reader, SeniorReader, ReferringDoctor, SiteAdmin, HubAdmin}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// groupRole reports whether the role is scoped to a reading group rather
// than a site.
func (r Role) groupRole() bool { return r == Reader || r == SeniorReader }

// SiteKind is a level of the county medical community.
type SiteKind string

// Site levels.
const (
	Hub      SiteKind = "hub"      // county hospital / hub
	Township SiteKind = "township" // 乡镇卫生院
	Village  SiteKind = "village"  // 村卫生室
	Other    SiteKind = "other"    // other hospitals sharing results
)

// Site is an institution. Parent is "" only for the hub.
type Site struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Kind    SiteKind  `json:"kind"`
	Parent  string    `json:"parent,omitempty"`
	Created time.Time `json:"created"`
}

// Group is a reading group (影像诊断中心, 心电诊断中心). Sites lists the
// sites whose studies it reads; empty means every site.
type Group struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Modality string    `json:"modality,omitempty"` // informational: "imaging", "ecg"
	Sites    []string  `json:"sites,omitempty"`
	Created  time.Time `json:"created"`
}

// Grant is one role held at one site (site roles) or reading group (reader
// roles). HubAdmin needs neither.
type Grant struct {
	Role  Role   `json:"role"`
	Site  string `json:"site,omitempty"`
	Group string `json:"group,omitempty"`
}

func (g Grant) String() string {
	switch {
	case g.Group != "":
		return string(g.Role) + "@group:" + g.Group
	case g.Site != "":
		return string(g.Role) + "@" + g.Site
	}
	return string(g.Role)
}

// User is a person's account. PasswordHash is an argon2id PHC string; it is
// never serialised to API clients (see web package views).
type User struct {
	Username     string  `json:"username"`
	Name         string  `json:"name,omitempty"`
	PasswordHash string  `json:"password_hash"`
	Grants       []Grant `json:"grants"`
	Disabled     bool    `json:"disabled,omitempty"`
	MustChange   bool    `json:"must_change,omitempty"`
	// Epoch is bumped on password change, reset and disable; sessions
	// created under an older epoch are invalid, which logs the user out on
	// every replica.
	Epoch   int64     `json:"epoch"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Capability is what a bearer token may do.
type Capability string

// Token capabilities.
const (
	CapUpload         Capability = "upload"
	CapRead           Capability = "read"
	CapReportDelivery Capability = "report-delivery"
)

// Capabilities lists every capability.
var Capabilities = []Capability{CapUpload, CapRead, CapReportDelivery}

// Token is a bearer credential for a device, the CLI, an edge agent or an
// integration. Only the SHA-256 of its secret is stored.
type Token struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	Site         string       `json:"site"`
	Capabilities []Capability `json:"capabilities"`
	SecretSHA256 string       `json:"secret_sha256"`
	CreatedBy    string       `json:"created_by"`
	Created      time.Time    `json:"created"`
	Expires      time.Time    `json:"expires,omitzero"`
	Revoked      time.Time    `json:"revoked,omitzero"`
}

// Active reports whether the token may be used at t.
func (t *Token) Active(now time.Time) bool {
	return t.Revoked.IsZero() && (t.Expires.IsZero() || now.Before(t.Expires))
}

var (
	idRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
)

// ValidID checks a site or group id: lowercase letters, digits and '-', at
// most 63 characters. Ids become object keys, so the rule also keeps paths
// clean.
func ValidID(id string) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("%w: id %q must be 1-63 of a-z 0-9 - (starting with a letter or digit)", ErrInvalid, id)
	}
	return nil
}

// ValidUsername checks a username: lowercase letters, digits, '.', '_', '-'.
func ValidUsername(u string) error {
	if !usernameRE.MatchString(u) {
		return fmt.Errorf("%w: username %q must be 1-64 of a-z 0-9 . _ - (starting with a letter or digit)", ErrInvalid, u)
	}
	return nil
}

// ValidPassword enforces length only (NIST 800-63B): 12..256 characters,
// not equal to the username.
func ValidPassword(username, pw string) error {
	n := len([]rune(pw))
	if n < 12 || len(pw) > 256 || pw == username {
		return ErrWeakPassword
	}
	return nil
}

package auth

import (
	"slices"
	"sort"
)

// Kinds of principal.
const (
	KindUser  = "user"
	KindToken = "token"
)

// Principal is the authenticated caller of one request.
type Principal struct {
	Kind        string // KindUser or KindToken
	Name        string // username, or "token:<id>"
	DisplayName string
	Grants      []Grant // users
	MustChange  bool    // users: only account.self actions until the password changes
	SessionID   string  `json:"-"`
	CSRF        string  `json:"-"`
	// Tokens: the site and capabilities the token was issued for.
	TokenSite    string
	Capabilities []Capability
}

// RoleStrings lists the principal's grants (or capabilities) for the audit trail.
func (p *Principal) RoleStrings() []string {
	if p == nil {
		return nil
	}
	if p.Kind == KindToken {
		out := make([]string, len(p.Capabilities))
		for i, c := range p.Capabilities {
			out[i] = "token:" + string(c) + "@" + p.TokenSite
		}
		return out
	}
	return grantStrings(p.Grants)
}

// HomeSite is the site the principal acts from (the token's site, or the
// user's first site grant) — recorded in the audit trail.
func (p *Principal) HomeSite() string {
	if p == nil {
		return ""
	}
	if p.Kind == KindToken {
		return p.TokenSite
	}
	for _, g := range p.Grants {
		if g.Site != "" {
			return g.Site
		}
	}
	return ""
}

func (p *Principal) has(r Role) bool {
	return slices.ContainsFunc(p.Grants, func(g Grant) bool { return g.Role == r })
}

func (p *Principal) can(c Capability) bool { return slices.Contains(p.Capabilities, c) }

// Action is something a principal does. Each names the kind of resource it
// applies to.
type Action string

// The actions. Site actions take Resource.Site; group actions
// Resource.Group.
const (
	StudyRead     Action = "study.read"     // QIDO/WADO/metadata/rendered (site)
	StudyUpload   Action = "study.upload"   // STOW-RS, ECG and zip uploads (site)
	ReportRead    Action = "report.read"    // signed reports of a site's patients (site)
	ReportDeliver Action = "report.deliver" // integrations pulling signed reports (site)
	WorklistRead  Action = "worklist.read"  // see a reading group's queue (group)
	WorklistClaim Action = "worklist.claim" // claim/renew/release tasks (group)
	ReportWrite   Action = "report.write"   // preliminary reports (group)
	ReportSign    Action = "report.sign"    // final sign-off (group)
	MutualLookup  Action = "hr.lookup"      // 互认 lookup across sites for a treated patient (any site; audited)
	UserAdmin     Action = "admin.users"    // manage accounts of a site and below (site)
	TokenAdmin    Action = "admin.tokens"   // manage tokens of a site and below (site)
	SiteCreate    Action = "admin.sites"    // create a site below Resource.Site (site)
	GroupAdmin    Action = "admin.groups"   // reading groups (hub admin)
	AuditRead     Action = "audit.read"     // search the audit trail (hub admin)
	AccountSelf   Action = "account.self"   // me, password change, logout (any user)
)

// Actions lists every action, for the matrix test and docs.
var Actions = []Action{StudyRead, StudyUpload, ReportRead, ReportDeliver, WorklistRead, WorklistClaim, ReportWrite,
	ReportSign, MutualLookup, UserAdmin, TokenAdmin, SiteCreate, GroupAdmin, AuditRead, AccountSelf}

// Resource is what an action applies to. The zero Resource asks "may the
// principal do this anywhere?" — what route guards check before the
// handler knows the exact site.
type Resource struct {
	Site  string
	Group string
}

// Any is the zero Resource.
var Any = Resource{}

// concealed actions deny with ErrNotVisible (404): the caller must not learn
// that a study or report of another site exists.
func concealed(a Action) bool {
	return a == StudyRead || a == ReportRead || a == ReportDeliver
}

// Policy is the one place that decides. It reads the site hierarchy and
// reading-group coverage from the Service's current snapshot, in memory.
type Policy struct{ s *Service }

// Policy returns the authorization policy over this Service's directory.
func (s *Service) Policy() *Policy { return &Policy{s: s} }

// Authorize returns nil if p may perform a on r, ErrUnauthenticated when p
// is nil, ErrMustChange for a user who must change the password first,
// ErrNotVisible (404) for denied reads of clinical data and ErrForbidden
// otherwise.
func (pol *Policy) Authorize(p *Principal, a Action, r Resource) error {
	if p == nil {
		return ErrUnauthenticated
	}
	if p.Kind == KindUser && p.MustChange && a != AccountSelf {
		return ErrMustChange
	}
	if pol.allowed(p, a, r) {
		return nil
	}
	if concealed(a) && r != Any {
		return ErrNotVisible
	}
	return ErrForbidden
}

func (pol *Policy) allowed(p *Principal, a Action, r Resource) bool {
	snap := pol.s.dir.current()
	if p.Kind == KindToken {
		siteOK := r.Site == "" || r.Site == p.TokenSite
		if r.Group != "" {
			return false
		}
		switch a {
		case StudyUpload:
			return siteOK && p.can(CapUpload)
		case StudyRead:
			return siteOK && p.can(CapRead)
		case ReportRead:
			return siteOK && (p.can(CapRead) || p.can(CapReportDelivery))
		case ReportDeliver:
			return siteOK && p.can(CapReportDelivery)
		case AccountSelf:
			return true // me, logout; the password handler refuses tokens
		}
		return false
	}
	if a == AccountSelf {
		return true
	}
	if p.has(HubAdmin) {
		switch a {
		case UserAdmin, TokenAdmin, SiteCreate, GroupAdmin, AuditRead:
			return true
		}
	}
	for _, g := range p.Grants {
		if grantAllows(snap, g, a, r) {
			return true
		}
	}
	return false
}

// grantAllows decides one grant. r.Site == "" / r.Group == "" mean "any".
func grantAllows(snap *snapshot, g Grant, a Action, r Resource) bool {
	siteIs := func(site string) bool { return r.Site == "" || r.Site == site }
	siteWithin := func(root string) bool { return r.Site == "" || snap.within(r.Site, root) }
	groupCovers := func() bool {
		if r.Site == "" {
			return true
		}
		gr, ok := snap.groups[g.Group]
		return ok && (len(gr.Sites) == 0 || slices.Contains(gr.Sites, r.Site))
	}
	groupIs := func() bool { return r.Group == "" || r.Group == g.Group }
	switch g.Role {
	case Technician:
		switch a {
		case StudyRead, StudyUpload, ReportRead:
			return r.Group == "" && siteIs(g.Site)
		}
	case ReferringDoctor:
		switch a {
		case StudyRead, ReportRead:
			return r.Group == "" && siteIs(g.Site)
		case MutualLookup:
			return true
		}
	case Reader, SeniorReader:
		switch a {
		case StudyRead, ReportRead:
			return r.Group == "" && groupCovers()
		case WorklistRead, WorklistClaim, ReportWrite:
			return r.Site == "" && groupIs()
		case ReportSign:
			return g.Role == SeniorReader && r.Site == "" && groupIs()
		}
	case SiteAdmin:
		switch a {
		case UserAdmin, TokenAdmin, SiteCreate:
			return r.Group == "" && siteWithin(g.Site)
		}
	}
	return false
}

// SitesFor returns the sites where p may perform the site action a: nil
// means every site, an empty non-nil slice means none. Query handlers pass
// it into their index lookups so counts and paging only ever see permitted
// rows.
func (pol *Policy) SitesFor(p *Principal, a Action) []string {
	if p == nil || (p.Kind == KindUser && p.MustChange) {
		return []string{}
	}
	snap := pol.s.dir.current()
	if p.Kind == KindToken {
		if pol.allowed(p, a, Resource{Site: p.TokenSite}) {
			return []string{p.TokenSite}
		}
		return []string{}
	}
	if p.has(HubAdmin) && (a == UserAdmin || a == TokenAdmin || a == SiteCreate) {
		return nil
	}
	set := map[string]bool{}
	for _, g := range p.Grants {
		if g.Role.groupRole() && (a == StudyRead || a == ReportRead) {
			gr, ok := snap.groups[g.Group]
			if !ok {
				continue
			}
			if len(gr.Sites) == 0 {
				return nil // this group reads for every site
			}
			for _, s := range gr.Sites {
				set[s] = true
			}
			continue
		}
		if g.Site == "" {
			continue
		}
		// Candidates: the grant's site and, for admin roles, everything below.
		for id := range snap.sites {
			if grantAllows(snap, g, a, Resource{Site: id}) {
				set[id] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// SitesVisible is SitesFor(p, StudyRead): the sites whose studies p may see
// (nil = all).
func (pol *Policy) SitesVisible(p *Principal) []string { return pol.SitesFor(p, StudyRead) }

// Groups returns the reading groups whose worklists p works, and for each
// whether p may sign final reports there.
func (pol *Policy) Groups(p *Principal) map[string]bool {
	out := map[string]bool{}
	if p == nil || p.Kind != KindUser || p.MustChange {
		return out
	}
	for _, g := range p.Grants {
		if g.Role.groupRole() {
			out[g.Group] = out[g.Group] || g.Role == SeniorReader
		}
	}
	return out
}

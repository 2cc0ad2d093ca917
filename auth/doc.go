// Package auth is Huren's accounts and authorization: sites in a hierarchy
// (county hub → township → village), reading groups, users holding roles
// scoped to sites or groups, password login with server-side sessions,
// hashed bearer tokens for devices and the CLI, and the one Policy every
// handler goes through.
//
// Durable records (sites, groups, users, tokens) live in object storage under
// accounts/ — the source of truth, like everything else in Huren. Sessions,
// login-failure counters, token last-use times and a change generation live in
// the State backend (auth/memory for one process, auth/redis for replicas), so
// any replica serves any session. Each replica keeps an in-memory Directory of
// the durable records and reloads it when the shared generation or the change
// marker accounts/changed.json (rewritten in storage after every change)
// moves. The marker is what reaches an embedded hub from the CLI, a separate
// process whose in-process State the hub cannot see, and it survives a Redis
// wipe. A change made on one replica or by the CLI is seen by every replica
// within Config.RefreshInterval (1 s by default), which bounds how long a
// revoked token or disabled user can still be used elsewhere.
//
// Concurrency: Service, Directory and Policy are safe for concurrent use.
// Authorization decisions never touch storage; they read the in-memory
// directory and one State lookup per session request.
//
// Non-goals: federation (OIDC/LDAP), per-study ACLs. Cross-site access is
// expressed by reading-group coverage and explicit grants, never by
// fetch-then-filter.
package auth

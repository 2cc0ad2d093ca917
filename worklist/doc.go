// Package worklist is Huren's reading worklist engine: every study and ECG
// that becomes complete turns into a reading task, routed by rules to a
// reading group, queued by priority (critical > STAT > urgent > routine),
// then due time, then arrival, and claimed by exactly one reader at a time
// under a renewable lease.
//
// The Queue interface (queue.go) states the contract; backends are
// worklist/memory (embedded default, one process) and worklist/redis (shared
// by replicas; every atomic state change is one Lua script, lease expiry
// uses Redis TIME). Both pass worklist/worklisttest.
//
// Around the Queue this package provides:
//   - Tracker: turns "instance stored" notifications into tasks after a
//     quiet period (or an explicit "study complete"), and ECGs into tasks at
//     once.
//   - Router: routing rules from a JSON file, validated with line/field
//     errors and reloadable without restart.
//   - Escalator: SLA sweep (priority bump near/past due, alert for critical
//     tasks left unclaimed).
//   - Hub: in-process fan-out of task events to subscribers (SSE).
//   - event persistence helpers: every state change is an Event written to
//     object storage under tasks/{task}/events/{time}-{seq}.json, and
//     LoadEvents folds them back into tasks for Rebuild after Redis is lost.
//
// Sub-packages: worklist/memory and worklist/redis (backends),
// worklist/worklisttest (contract suite), worklist/open (config → Queue,
// Rebuild entry point for `huren reindex`), worklist/api (HTTP API and SSE,
// documented in API.md).
//
// Durability: object storage is the source of truth. Events reach it
// asynchronously through a bounded outbox (memory: in process; Redis: a
// stream written in the same Lua script as the state change), so claims
// never wait for storage; when storage stays down until the outbox is full,
// state changes fail with ErrUnavailable (503) instead of happening without
// a durable event.
//
// Concurrency: every exported type is safe for concurrent use unless its doc
// says otherwise. Non-goals: report writing (package report), permissions
// beyond group membership and the senior-reader flag (package auth).
package worklist

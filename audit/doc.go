// Package audit is Huren's append-only, hash-chained audit trail.
//
// Every read and write of patient data and every admin action becomes an
// Event (who, role, site, resource, action, outcome, client address,
// purpose, time). A Log queues events in memory — Record never waits for
// storage — and a background flusher writes them at least every
// Config.FlushInterval (1 s) as JSON Lines segments in the object store:
//
//	audit/{yyyy}/{mm}/{dd}/{node}-{seq}.jsonl
//
// Each node (replica) has its own chain: records carry a per-node sequence
// number, the previous record's hash and their own SHA-256 over their
// canonical JSON, and segments are numbered contiguously per node, so the
// chain runs across segments and days. audit-heads/{node}.json records the
// latest stored record so that truncating the tail is detected too; it is
// rewritten at most every FlushInterval while durable writes arrive (one
// object write per durable flush instead of two), so only a truncation of
// the last second's records could go unnoticed.
//
// The set of nodes is itself verifiable: while events arrive, every node
// writes a checkpoint record (Action "audit.checkpoint") at least every
// Config.CheckpointInterval (1 min) and at Close, listing the heads of the
// other nodes that changed since its previous checkpoint. Those claims are
// inside its own hash chain, so deleting a node's whole trail together with
// its head — which its own chain cannot reveal — contradicts another node's
// checkpoint. Each checkpoint also logs this node's head as an anchor
// "node:seq:hash"; kept off the hub (a shipped log), `huren audit verify
// -anchor` detects even the removal of every node at once.
//
// Verify walks every chain and reports edited, removed, inserted or
// reordered records, removed segments, truncated tails and claims the trail
// no longer satisfies; Search finds records by patient, user, site, action
// and time.
//
// Durability: writes are acknowledged only with their record in storage:
// RecordDurable waits until the event is stored, sharing one segment write
// among every event queued meanwhile (group commit), and Middleware uses it
// for every request but GET, HEAD and OPTIONS, answering 503 + Retry-After
// when the record cannot be stored. Record (reads, and events recorded
// inside a handler before its request's own record) returns once the event
// is queued; it reaches storage at the next flush — at most
// Config.FlushInterval (1 s) later, the window a crash can lose — or with
// the next durable record, and Close flushes whatever is pending, so a
// graceful shutdown loses nothing. A failed flush keeps the records in
// memory and retries (bounded by Config.MaxPending, past which Record
// returns ErrBacklog rather than grow without limit).
//
// Concurrency: Log is safe for concurrent use; one process must not run two
// Logs with the same node name against the same store (use the replica's
// unique name; the CLI uses a per-invocation node).
//
// Non-goals: an operator with write access to storage can still rewrite a
// whole chain consistently, or remove every node's trail when no anchor was
// kept elsewhere.
package audit

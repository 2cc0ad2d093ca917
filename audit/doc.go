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
// latest flushed record so that truncating the tail is detected too. Verify
// walks every chain and reports edited, removed, inserted or reordered
// records and removed segments; Search finds records by patient, user,
// site, action and time.
//
// Durability: Record returning nil means acknowledged; the event is in
// storage after the next successful flush, and Close flushes whatever is
// pending, so a graceful shutdown loses nothing. A failed flush keeps the
// records in memory and retries (bounded by Config.MaxPending, past which
// Record returns ErrBacklog rather than grow without limit).
//
// Concurrency: Log is safe for concurrent use; one process must not run two
// Logs with the same node name against the same store (use the replica's
// unique name; the CLI uses a per-invocation node).
//
// Non-goals: external anchoring of chain heads (an operator with write access
// to storage could rewrite a whole chain consistently, or delete a node's
// entire chain together with its head; copy heads elsewhere if that matters).
package audit

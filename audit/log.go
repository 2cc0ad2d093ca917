package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/huren-health/huren/errkind"
	"github.com/huren-health/huren/storage"
)

// Errors of this package.
var (
	ErrBacklog  = errkind.New(errkind.Unavailable, "audit: too many unflushed events (storage unreachable?)")
	ErrClosed   = errkind.New(errkind.Unavailable, "audit: log is closed")
	ErrTampered = errkind.New(errkind.Conflict, "audit: the trail does not verify")
	ErrInvalid  = errkind.New(errkind.Invalid, "audit: invalid argument")
)

const (
	segmentPrefix = "audit/"
	headPrefix    = "audit-heads/"
	// maxLine bounds one JSONL record when reading (events are small; the
	// cap stops a corrupted segment from exhausting memory).
	maxLine = 1 << 20
)

// Record is one line of a segment: the Event plus its place in the chain.
type Record struct {
	Node string `json:"node"`
	Seq  uint64 `json:"seq"` // per-node record number, from 1
	Event
	// Heads is set on checkpoint records only (Action CheckpointAction):
	// the chain heads of other nodes this node saw, so each node's chain
	// vouches for the others' and deleting a node's whole trail is detected.
	Heads []Claim `json:"heads,omitempty"`
	Prev  string  `json:"prev"` // hash of the node's previous record; "" for the first
	Hash  string  `json:"hash"` // hex SHA-256 of this record's canonical JSON with Hash ""
}

// Claim states that node's chain had record Seq with hash Hash. Checkpoint
// records carry claims about other nodes; an operator's anchor (a
// checkpoint line kept off the hub) is a claim too. Verify checks every
// claim against the trail.
type Claim struct {
	Node string `json:"node"`
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// String is the anchor form "node:seq:hash" that ParseClaim reads.
func (c Claim) String() string { return fmt.Sprintf("%s:%d:%s", c.Node, c.Seq, c.Hash) }

// ParseClaim reads "node:seq:hash" (as printed by checkpoint log lines).
func ParseClaim(s string) (Claim, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return Claim{}, fmt.Errorf("%w: anchor %q: want node:seq:hash", ErrInvalid, s)
	}
	if err := ValidNode(parts[0]); err != nil {
		return Claim{}, err
	}
	seq, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil || seq == 0 {
		return Claim{}, fmt.Errorf("%w: anchor %q: bad record number", ErrInvalid, s)
	}
	if b, err := hex.DecodeString(parts[2]); err != nil || len(b) != sha256.Size {
		return Claim{}, fmt.Errorf("%w: anchor %q: hash must be 64 hex digits", ErrInvalid, s)
	}
	return Claim{Node: parts[0], Seq: seq, Hash: parts[2]}, nil
}

// CheckpointAction is the Action of checkpoint records.
const CheckpointAction = "audit.checkpoint"

// rewriteMax bounds what a background flush (every FlushInterval) rewrites
// of an already stored segment, so a busy read trail does not rewrite up to
// SegmentMaxBytes every second. (Durable flushes never rewrite; see
// RecordDurable.)
const rewriteMax = 64 << 10

// maxClaimsPerRecord keeps one checkpoint record far below maxLine.
const maxClaimsPerRecord = 200

// computeHash returns the record's hash over its canonical encoding.
func computeHash(r Record) (string, error) {
	r.Hash = ""
	b, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// head is audit-heads/{node}.json: where the node's chain ends.
type head struct {
	Node    string `json:"node"`
	Segment uint64 `json:"segment"`
	Seq     uint64 `json:"seq"`
	Hash    string `json:"hash"`
	Key     string `json:"key"`
}

var nodeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._]{0,62}$`)

// ValidNode checks a node name: letters, digits, '.', '_' (no '-', which
// separates the node from the segment number in keys).
func ValidNode(n string) error {
	if !nodeRE.MatchString(n) {
		return fmt.Errorf("%w: node %q must be 1-63 of A-Z a-z 0-9 . _", ErrInvalid, n)
	}
	return nil
}

// SanitizeNode turns a hostname into a valid node name.
func SanitizeNode(n string) string {
	b := []byte(n)
	for i, c := range b {
		ok := c == '.' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			b[i] = '_'
		}
	}
	s := strings.TrimLeft(string(b), "._")
	if len(s) > 63 {
		s = s[:63]
	}
	if s == "" {
		s = "node"
	}
	return s
}

func segmentKey(day time.Time, node string, seq uint64) string {
	return fmt.Sprintf("%s%04d/%02d/%02d/%s-%08d.jsonl", segmentPrefix, day.Year(), day.Month(), day.Day(), node, seq)
}

var segKeyRE = regexp.MustCompile(`^audit/(\d{4})/(\d{2})/(\d{2})/([A-Za-z0-9][A-Za-z0-9._]{0,62})-(\d{8,20})\.jsonl$`)

// parseSegmentKey returns the day, node and segment number of a key.
func parseSegmentKey(key string) (day time.Time, node string, seq uint64, ok bool) {
	m := segKeyRE.FindStringSubmatch(key)
	if m == nil {
		return time.Time{}, "", 0, false
	}
	day, err := time.Parse("2006/01/02", m[1]+"/"+m[2]+"/"+m[3])
	if err != nil {
		return time.Time{}, "", 0, false
	}
	seq, err = strconv.ParseUint(m[5], 10, 64)
	if err != nil {
		return time.Time{}, "", 0, false
	}
	return day, m[4], seq, true
}

// Config tunes a Log.
type Config struct {
	// Node names this writer (the replica); see ValidNode.
	Node string
	// FlushInterval is the longest an acknowledged event waits in memory
	// (default 1 s).
	FlushInterval time.Duration
	// SegmentMaxBytes rolls to a new segment past this size (default 1 MiB);
	// the open segment is rewritten whole on each background flush, so a
	// segment that is already stored also rolls at 64 KiB, and a durable
	// flush starts a new segment.
	SegmentMaxBytes int
	// MaxPending caps unflushed events (default 200 000).
	MaxPending int
	// CheckpointInterval is how often, while events arrive, the node writes
	// a checkpoint record listing the other nodes' heads that changed since
	// its previous one (default 1 min; Close writes one too). Negative
	// disables checkpoints (tests of the chain alone).
	CheckpointInterval time.Duration
	// CheckpointLookback limits the first checkpoint after Start to heads
	// written this recently (default 7 days): older ones were claimed by
	// checkpoints of their own time, and a short-lived node (each CLI
	// command is one) must not list every node ever seen.
	CheckpointLookback time.Duration
	// NoAnchorLog skips the Info line with this node's anchor after each
	// checkpoint (short-lived nodes: a CLI command).
	NoAnchorLog bool
	// Now is the clock; nil → time.Now.
	Now func() time.Time
}

// entry is a queued event; heads is set on checkpoint records only.
type entry struct {
	e     Event
	heads []Claim
}

type segment struct {
	seq    uint64
	day    time.Time
	key    string
	buf    bytes.Buffer
	dirty  bool
	closed bool // rolled: no more appends
	exists bool // written at least once (later writes replace it)
}

// Log writes events to hash-chained segments. Construct with New, Start,
// then Record from any goroutine; Close flushes.
type Log struct {
	store storage.Store
	cfg   Config
	log   *slog.Logger

	mu      sync.Mutex
	pending []entry
	closed  bool
	kick    chan struct{}
	// Group commit: events are numbered in the order they are queued;
	// taken counts those a flush has chained into segments, stored those
	// known to be in storage.
	queued uint64
	taken  uint64
	stored uint64

	flushMu sync.Mutex // serialises flushes; guards the fields below
	seq     uint64     // last record seq assigned
	prev    string     // last record hash
	segSeq  uint64     // last segment number used
	lastDay time.Time  // day of the last segment
	segs    []*segment // unflushed or open segments, oldest first

	started bool // Start found the chain's end; guarded by flushMu
	// headLags: segments were stored after the head was last written;
	// headAt: when it was. Guarded by flushMu.
	headLags bool
	headAt   time.Time
	// fresh: the running flush starts a new segment instead of appending
	// to a stored one (durable flushes). Guarded by flushMu.
	fresh bool

	// Checkpoint state, guarded by flushMu: the head versions and claims
	// already made, and this chain's record number at the last checkpoint.
	headSeen  map[string]string
	claimed   map[string]Claim
	cpSeq     uint64
	cpStarted bool
	stop      context.CancelFunc
	done      chan struct{}

	mEvents  prometheus.Counter
	mErrors  prometheus.Counter
	mPending prometheus.GaugeFunc
}

// New builds a Log (no I/O). reg may be nil.
func New(store storage.Store, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Log, error) {
	if err := ValidNode(cfg.Node); err != nil {
		return nil, err
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = time.Second
	}
	if cfg.SegmentMaxBytes <= 0 {
		cfg.SegmentMaxBytes = 1 << 20
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 200_000
	}
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = time.Minute
	}
	if cfg.CheckpointLookback <= 0 {
		cfg.CheckpointLookback = 7 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Log{store: store, cfg: cfg, log: log.With("component", "audit", "node", cfg.Node), kick: make(chan struct{}, 1),
		headSeen: map[string]string{}, claimed: map[string]Claim{}}
	l.mEvents = prometheus.NewCounter(prometheus.CounterOpts{Name: "huren_audit_events_total", Help: "Audit events acknowledged."})
	l.mErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "huren_audit_flush_errors_total", Help: "Failed audit segment writes (retried)."})
	l.mPending = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "huren_audit_pending_events", Help: "Audit events not yet in storage."},
		func() float64 { l.mu.Lock(); defer l.mu.Unlock(); return float64(len(l.pending)) })
	if reg != nil {
		for _, c := range []prometheus.Collector{l.mEvents, l.mErrors, l.mPending} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("audit metrics: %w", err)
			}
		}
	}
	return l, nil
}

// Start finds where this node's chain ends (its head, or a scan of the
// segments when the head is missing) and starts the flusher.
func (l *Log) Start(ctx context.Context) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	var h head
	err := readJSON(ctx, l.store, headPrefix+l.cfg.Node+".json", &h)
	switch {
	case err == nil:
	case errors.Is(err, storage.ErrNotFound):
		if h, err = l.scanHead(ctx); err != nil {
			return err
		}
	default:
		return fmt.Errorf("audit start: %w", err)
	}
	// The head may lag one flush behind a crash; the segment it names, or a
	// later one, may hold more records. Re-read the last segments to be sure.
	if h, err = l.catchUp(ctx, h); err != nil {
		return err
	}
	l.seq, l.prev, l.segSeq = h.Seq, h.Hash, h.Segment
	if d, _, _, ok := parseSegmentKey(h.Key); ok {
		l.lastDay = d
	}
	l.started = true
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.stop, l.done = cancel, make(chan struct{})
	go l.flusher(fctx)
	return nil
}

// scanHead lists every segment to find this node's last one (used when the
// head object is missing: first start, or a lost head).
func (l *Log) scanHead(ctx context.Context) (head, error) {
	h := head{Node: l.cfg.Node}
	err := l.store.List(ctx, segmentPrefix, func(i storage.Info) error {
		if _, node, seq, ok := parseSegmentKey(i.Key); ok && node == l.cfg.Node && seq > h.Segment {
			h.Segment, h.Key = seq, i.Key
		}
		return nil
	})
	if err != nil {
		return head{}, fmt.Errorf("audit start: scan segments: %w", err)
	}
	return h, nil
}

// catchUp reads the head's segment and any later ones of this node so a
// restart continues the chain from its true end.
func (l *Log) catchUp(ctx context.Context, h head) (head, error) {
	if h.Key == "" {
		return h, nil
	}
	keys := map[uint64]string{}
	day, _, _, ok := parseSegmentKey(h.Key)
	if !ok {
		return h, fmt.Errorf("audit start: head names a bad key %q", h.Key)
	}
	// Later segments are on the head's day or after; list from that day.
	for d := day; !d.After(l.cfg.Now().UTC().AddDate(0, 0, 1)); d = d.AddDate(0, 0, 1) {
		prefix := fmt.Sprintf("%s%04d/%02d/%02d/", segmentPrefix, d.Year(), d.Month(), d.Day())
		if err := l.store.List(ctx, prefix, func(i storage.Info) error {
			if _, node, seq, ok := parseSegmentKey(i.Key); ok && node == l.cfg.Node && seq >= h.Segment {
				keys[seq] = i.Key
			}
			return nil
		}); err != nil {
			return h, fmt.Errorf("audit start: %w", err)
		}
	}
	for seq := h.Segment; ; seq++ {
		key, ok := keys[seq]
		if !ok {
			break
		}
		err := readSegment(ctx, l.store, key, func(r Record, _ []byte) error {
			if r.Seq > h.Seq {
				h.Seq, h.Hash = r.Seq, r.Hash
			}
			return nil
		})
		if err != nil {
			return h, fmt.Errorf("audit start: read %s: %w", key, err)
		}
		h.Segment, h.Key = seq, key
	}
	return h, nil
}

// Record queues e; see Recorder. A zero Time is set to now.
func (l *Log) Record(e Event) error {
	_, err := l.enqueue(e)
	return err
}

// RecordDurable queues e and returns once it is in storage, or with the
// error of the flush that tried to store it (then e stays queued and a
// later flush stores it, but the caller must not acknowledge the action it
// describes). Concurrent callers share flushes (group commit): the caller
// that gets the flush lock stores every event queued so far, and those who
// waited for the lock meanwhile usually find theirs stored already. The
// flush runs on the caller's goroutine: no hand-off to the flusher, whose
// wake-up would add scheduling latency to every write.
func (l *Log) RecordDurable(ctx context.Context, e Event) error {
	n, err := l.enqueue(e)
	if err != nil {
		return err
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	done := l.stored >= n
	l.mu.Unlock()
	if done {
		return nil
	}
	// A durable flush puts its records in a new segment rather than
	// rewriting a stored one: on the filesystem store replacing an object
	// costs two fsyncs one after the other (the new content, then the
	// rename), creating one a single round. Measured STOW at concurrency 1
	// on the development VM: 76 inst/s rewriting, 130 creating, 180
	// without durable audit. The price is more, smaller segments while
	// writes arrive one at a time; concurrent writes share a flush.
	l.fresh = true
	defer func() { l.fresh = false }()
	if err := l.flushLocked(ctx, false); err != nil {
		return err
	}
	return nil
}

// enqueue queues e and returns its number in the queue order.
func (l *Log) enqueue(e Event) (uint64, error) {
	if e.Time.IsZero() {
		e.Time = l.cfg.Now()
	}
	e.Time = e.Time.UTC()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	if len(l.pending) >= l.cfg.MaxPending {
		l.mu.Unlock()
		return 0, ErrBacklog
	}
	l.pending = append(l.pending, entry{e: e})
	l.queued++
	n, q := len(l.pending), l.queued
	l.mu.Unlock()
	l.mEvents.Inc()
	if n >= 4096 { // a burst: flush early rather than hold many in memory
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	return q, nil
}

func (l *Log) flusher(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.cfg.FlushInterval)
	defer t.Stop()
	var cp <-chan time.Time
	if l.cfg.CheckpointInterval > 0 {
		ct := time.NewTicker(l.cfg.CheckpointInterval)
		defer ct.Stop()
		cp = ct.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.kick:
			// A burst: store the segments now; the head follows at most
			// every FlushInterval.
			if err := l.flush(ctx, false); err != nil && ctx.Err() == nil {
				l.log.Error("audit flush failed; will retry", "err", err)
			}
			continue
		case <-cp:
			if err := l.Checkpoint(ctx); err != nil && ctx.Err() == nil {
				l.log.Error("audit checkpoint failed; will retry", "err", err)
			}
			continue
		}
		if err := l.Flush(ctx); err != nil && ctx.Err() == nil {
			l.log.Error("audit flush failed; will retry", "err", err)
		}
	}
}

// Flush writes every queued event and the head to storage now. On error
// the events stay queued (already chained) and the next Flush retries.
func (l *Log) Flush(ctx context.Context) error {
	return l.flush(ctx, true)
}

func (l *Log) flush(ctx context.Context, head bool) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	return l.flushLocked(ctx, head)
}

// flushLocked stores the queued events; the head too when head is set or
// it was last written FlushInterval ago or more. Rewriting the head on
// every durable flush would double the writes a STOW waits for; a head at
// most FlushInterval old still bounds an undetected tail truncation to
// that window (Start catches up past a lagging head anyway).
func (l *Log) flushLocked(ctx context.Context, head bool) error {
	if !l.started {
		return errors.New("audit flush: log not started")
	}
	l.mu.Lock()
	batch := l.pending
	l.pending = nil
	l.taken += uint64(len(batch))
	taken := l.taken
	l.mu.Unlock()
	for _, en := range batch {
		if err := l.append(en); err != nil {
			return err
		}
	}
	err := l.writeSegments(ctx, head || l.cfg.Now().Sub(l.headAt) >= l.cfg.FlushInterval)
	if err == nil {
		l.mu.Lock()
		l.stored = taken
		l.mu.Unlock()
	}
	return err
}

// Checkpoint appends a checkpoint record — the heads of the other nodes
// that changed since this node's previous checkpoint (the first one after
// Start: those written within CheckpointLookback) — and flushes. It writes
// nothing when neither this chain nor any other head moved. After the
// flush it logs this chain's head as an anchor ("node:seq:hash"): a log
// shipped off the hub keeps a copy that `huren audit verify -anchor` checks,
// which detects even the deletion of every node's trail.
func (l *Log) Checkpoint(ctx context.Context) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	if !l.started {
		return errors.New("audit checkpoint: log not started")
	}
	claims, err := l.changedHeads(ctx)
	if err != nil {
		return err
	}
	l.mu.Lock()
	moved := l.queued > l.taken || l.seq > l.cpSeq
	l.mu.Unlock()
	if len(claims) == 0 && !moved {
		return l.flushLocked(ctx, true)
	}
	now := l.cfg.Now().UTC()
	l.mu.Lock()
	for i := 0; i == 0 || i < len(claims); i += maxClaimsPerRecord {
		part := claims[i:min(i+maxClaimsPerRecord, len(claims))]
		l.pending = append(l.pending, entry{e: Event{Time: now, User: "system", Action: CheckpointAction, Resource: "audit-heads/", Outcome: OK,
			Detail: fmt.Sprintf("%d other node head(s)", len(part))}, heads: part})
		l.queued++
	}
	l.mu.Unlock()
	if err := l.flushLocked(ctx, true); err != nil {
		return err
	}
	for _, c := range claims {
		l.claimed[c.Node] = c
	}
	l.cpSeq = l.seq
	if !l.cfg.NoAnchorLog {
		l.log.Info("audit checkpoint; keep this anchor off the hub and check it with huren audit verify -anchor",
			"anchor", Claim{Node: l.cfg.Node, Seq: l.seq, Hash: l.prev}.String(), "other_nodes", len(claims))
	}
	return nil
}

// changedHeads reads the heads of other nodes whose object changed since
// this node last looked and returns those not yet claimed. Caller holds
// flushMu.
func (l *Log) changedHeads(ctx context.Context) ([]Claim, error) {
	first := !l.cpStarted
	since := l.cfg.Now().Add(-l.cfg.CheckpointLookback)
	var changed []string
	if err := l.store.List(ctx, headPrefix, func(i storage.Info) error {
		node, ok := strings.CutSuffix(strings.TrimPrefix(i.Key, headPrefix), ".json")
		if !ok || node == l.cfg.Node || ValidNode(node) != nil {
			return nil
		}
		v := fmt.Sprintf("%s/%d/%d", i.SHA256, i.Size, i.ModTime.UnixNano())
		if l.headSeen[node] == v || (first && i.ModTime.Before(since)) {
			l.headSeen[node] = v
			return nil
		}
		l.headSeen[node] = v
		changed = append(changed, node)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("audit checkpoint: list heads: %w", err)
	}
	var out []Claim
	for _, node := range changed {
		var h head
		if err := readJSON(ctx, l.store, headPrefix+node+".json", &h); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			delete(l.headSeen, node) // read it again next time
			return nil, fmt.Errorf("audit checkpoint: %w", err)
		}
		if h.Node != node || h.Seq == 0 {
			continue // Verify reports a malformed head
		}
		c := Claim{Node: node, Seq: h.Seq, Hash: h.Hash}
		if l.claimed[node] != c {
			out = append(out, c)
		}
	}
	l.cpStarted = true
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, nil
}

// append chains one event into the open segment. Caller holds flushMu.
func (l *Log) append(en entry) error {
	e := en.e
	r := Record{Node: l.cfg.Node, Seq: l.seq + 1, Event: e, Heads: en.heads, Prev: l.prev}
	h, err := computeHash(r)
	if err != nil {
		return fmt.Errorf("audit encode: %w", err)
	}
	r.Hash = h
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit encode: %w", err)
	}
	// A segment's day comes from its records' times but never moves back
	// (a back-dated event or a clock step lands in the current day's
	// segment), so segment days are monotonic along the chain.
	day := time.Date(e.Time.Year(), e.Time.Month(), e.Time.Day(), 0, 0, 0, 0, time.UTC)
	if day.Before(l.lastDay) {
		day = l.lastDay
	}
	l.lastDay = day
	var cur *segment
	if n := len(l.segs); n > 0 && !l.segs[n-1].closed {
		cur = l.segs[n-1]
		// Past rewriteMax a stored segment is not rewritten again: every
		// flush rewrites the open segment whole (objects cannot be
		// appended to), and durable writes flush often.
		if !cur.day.Equal(day) || cur.buf.Len()+len(line) > l.cfg.SegmentMaxBytes || (cur.exists && (l.fresh || cur.buf.Len() >= rewriteMax)) {
			cur.closed = true
			cur = nil
		}
	}
	if cur == nil {
		l.segSeq++
		cur = &segment{seq: l.segSeq, day: day, key: segmentKey(day, l.cfg.Node, l.segSeq)}
		l.segs = append(l.segs, cur)
	}
	cur.buf.Write(line)
	cur.buf.WriteByte('\n')
	cur.dirty = true
	l.seq, l.prev = r.Seq, r.Hash
	return nil
}

// writeSegments stores every dirty segment in order, then (if writeHead) the
// head when it lags, and forgets closed segments that are safely stored.
// Caller holds flushMu.
func (l *Log) writeSegments(ctx context.Context, writeHead bool) error {
	for _, s := range l.segs {
		if !s.dirty {
			continue
		}
		opts := storage.PutOptions{ContentType: "application/x-ndjson", Size: int64(s.buf.Len())}
		var err error
		if s.exists {
			_, err = l.store.Put(ctx, s.key, bytes.NewReader(s.buf.Bytes()), opts)
		} else {
			// A new segment never overwrites: an existing key means another
			// writer uses this node name, which Verify will also flag.
			_, err = l.store.PutIfAbsent(ctx, s.key, bytes.NewReader(s.buf.Bytes()), opts)
		}
		if err != nil {
			l.mErrors.Inc()
			return fmt.Errorf("audit write %s: %w", s.key, err)
		}
		s.exists, s.dirty, l.headLags = true, false, true
	}
	if writeHead && l.headLags {
		last := l.segs[len(l.segs)-1]
		h := head{Node: l.cfg.Node, Segment: last.seq, Seq: l.seq, Hash: l.prev, Key: last.key}
		b, _ := json.Marshal(h)
		if _, err := l.store.Put(ctx, headPrefix+l.cfg.Node+".json", bytes.NewReader(b), storage.PutOptions{ContentType: "application/json", Size: int64(len(b))}); err != nil {
			l.mErrors.Inc()
			return fmt.Errorf("audit write head: %w", err)
		}
		l.headLags, l.headAt = false, l.cfg.Now()
	}
	keep := l.segs[:0]
	for _, s := range l.segs {
		// The last segment stays while the head may still need to name it.
		if !s.closed || s.dirty || (l.headLags && s == l.segs[len(l.segs)-1]) {
			keep = append(keep, s)
		}
	}
	clear(l.segs[len(keep):])
	l.segs = keep
	return nil
}

// Close stops accepting events, stops the flusher and flushes what is
// pending (bounded by 30 s). Safe to call twice.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	if l.stop != nil {
		l.stop()
		<-l.done
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l.mu.Lock()
	n := len(l.pending)
	l.mu.Unlock()
	l.flushMu.Lock()
	started := l.started
	l.flushMu.Unlock()
	if !started && n == 0 {
		return nil
	}
	if started && l.cfg.CheckpointInterval > 0 {
		// The last checkpoint: a short-lived node (a CLI command) vouches
		// for the other nodes here, and a replica's final head is logged.
		if err := l.Checkpoint(ctx); err != nil {
			l.log.Error("audit checkpoint at close failed", "err", err)
		}
	}
	if err := l.Flush(ctx); err != nil {
		return fmt.Errorf("audit close: events not stored: %w", err)
	}
	return nil
}

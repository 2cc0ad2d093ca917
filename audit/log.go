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
	Prev string `json:"prev"` // hash of the node's previous record; "" for the first
	Hash string `json:"hash"` // hex SHA-256 of this record's canonical JSON with Hash ""
}

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
	// the open segment is rewritten whole on each flush, so it stays small.
	SegmentMaxBytes int
	// MaxPending caps unflushed events (default 200 000).
	MaxPending int
	// Now is the clock; nil → time.Now.
	Now func() time.Time
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
	pending []Event
	closed  bool
	kick    chan struct{}

	flushMu sync.Mutex // serialises flushes; guards the fields below
	seq     uint64     // last record seq assigned
	prev    string     // last record hash
	segSeq  uint64     // last segment number used
	lastDay time.Time  // day of the last segment
	segs    []*segment // unflushed or open segments, oldest first

	started bool // Start found the chain's end; guarded by flushMu
	stop    context.CancelFunc
	done    chan struct{}

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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Log{store: store, cfg: cfg, log: log.With("component", "audit", "node", cfg.Node), kick: make(chan struct{}, 1)}
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
	if e.Time.IsZero() {
		e.Time = l.cfg.Now()
	}
	e.Time = e.Time.UTC()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if len(l.pending) >= l.cfg.MaxPending {
		l.mu.Unlock()
		return ErrBacklog
	}
	l.pending = append(l.pending, e)
	n := len(l.pending)
	l.mu.Unlock()
	l.mEvents.Inc()
	if n >= 4096 { // a burst: flush early rather than hold many in memory
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

func (l *Log) flusher(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.kick:
		}
		if err := l.Flush(ctx); err != nil && ctx.Err() == nil {
			l.log.Error("audit flush failed; will retry", "err", err)
		}
	}
}

// Flush writes every queued event to storage now. On error the events stay
// queued (already chained) and the next Flush retries.
func (l *Log) Flush(ctx context.Context) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	if !l.started {
		return errors.New("audit flush: log not started")
	}
	l.mu.Lock()
	batch := l.pending
	l.pending = nil
	l.mu.Unlock()
	for _, e := range batch {
		if err := l.append(e); err != nil {
			return err
		}
	}
	return l.writeSegments(ctx)
}

// append chains one event into the open segment. Caller holds flushMu.
func (l *Log) append(e Event) error {
	r := Record{Node: l.cfg.Node, Seq: l.seq + 1, Event: e, Prev: l.prev}
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
		if !cur.day.Equal(day) || cur.buf.Len()+len(line) > l.cfg.SegmentMaxBytes {
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

// writeSegments stores every dirty segment in order, then the head, and
// forgets closed segments that are safely stored. Caller holds flushMu.
func (l *Log) writeSegments(ctx context.Context) error {
	wrote := false
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
		s.exists, s.dirty, wrote = true, false, true
	}
	if !wrote {
		return nil
	}
	last := l.segs[len(l.segs)-1]
	h := head{Node: l.cfg.Node, Segment: last.seq, Seq: l.seq, Hash: l.prev, Key: last.key}
	b, _ := json.Marshal(h)
	if _, err := l.store.Put(ctx, headPrefix+l.cfg.Node+".json", bytes.NewReader(b), storage.PutOptions{ContentType: "application/json", Size: int64(len(b))}); err != nil {
		l.mErrors.Inc()
		return fmt.Errorf("audit write head: %w", err)
	}
	keep := l.segs[:0]
	for _, s := range l.segs {
		if !s.closed || s.dirty {
			keep = append(keep, s)
		}
	}
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
	if err := l.Flush(ctx); err != nil {
		return fmt.Errorf("audit close: events not stored: %w", err)
	}
	return nil
}

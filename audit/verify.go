package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/huren-health/huren/storage"
)

func readJSON(ctx context.Context, st storage.Reader, key string, v any) error {
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	defer rc.Close()
	dec := json.NewDecoder(io.LimitReader(rc, maxLine))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}

// errLine marks a line that does not decode as a Record.
var errLine = errors.New("malformed record")

// decodeLine parses one segment line strictly: unknown fields are an error,
// and the line must be exactly the canonical encoding of the record, so no
// byte can change without detection.
func decodeLine(line []byte) (Record, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("%w: %v", errLine, err)
	}
	canon, err := json.Marshal(r)
	if err != nil || !bytes.Equal(canon, line) {
		return r, fmt.Errorf("%w: not in canonical form", errLine)
	}
	return r, nil
}

// readSegment calls fn for each line of a segment in order. Lines that fail
// to decode are passed with a zero Record and the raw bytes only when fn is
// nil-safe; here they abort with an error.
func readSegment(ctx context.Context, st storage.Reader, key string, fn func(Record, []byte) error) error {
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		n++
		r, err := decodeLine(sc.Bytes())
		if err != nil {
			return fmt.Errorf("%s line %d: %w", key, n, err)
		}
		if err := fn(r, sc.Bytes()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s line %d: %w", key, n+1, err)
	}
	return nil
}

// Report is the outcome of Verify.
type Report struct {
	Nodes    int `json:"nodes"`
	Segments int `json:"segments"`
	Records  int `json:"records"`
	// Claims counts the checkpoint claims and anchors checked against the
	// nodes they name.
	Claims   int      `json:"claims"`
	Problems []string `json:"problems,omitempty"`
}

const maxProblems = 100

func (r *Report) problem(format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

type segRef struct {
	key string
	day time.Time
	seq uint64
	// first and last record numbers, filled while verifying (0 = none).
	first, last uint64
}

// claimAt is a claim with who made it, for the report.
type claimAt struct {
	Claim
	by string
}

// VerifyOptions add checks to Verify.
type VerifyOptions struct {
	// Anchors are heads kept off the hub (the "anchor" of a checkpoint log
	// line): each must still be in the trail with the same hash. They are
	// what detects the removal of every node's trail at once.
	Anchors []Claim
}

// Verify walks every node's chain and reports each break: a record whose
// bytes were edited (hash or canonical form mismatch), a removed, inserted
// or reordered record (sequence or prev-hash break), a removed segment (gap
// in segment numbers or in the chain across segments), a truncated tail
// (shorter than the node's head), stray objects under audit/, and — from
// the checkpoint records every node writes about the others, and from
// opts.Anchors — a node whose whole trail (segments and head) was removed
// or cut below what another node or an anchor saw. It returns the report
// and, if there is any problem, an error matching ErrTampered. Storage
// errors are returned as such.
func Verify(ctx context.Context, src Source, opts ...VerifyOptions) (Report, error) {
	st, lister := src, src
	var rep Report
	// Heads are read before segments are listed: a writer stores its
	// segment before its head, so a live node's head never names a segment
	// this listing misses.
	heads := map[string]head{}
	err := lister.List(ctx, headPrefix, func(i storage.Info) error {
		var h head
		if err := readJSON(ctx, st, i.Key, &h); err != nil {
			rep.problem("%s: unreadable head: %v", i.Key, err)
			return nil
		}
		if i.Key != headPrefix+h.Node+".json" {
			rep.problem("%s: head names node %q", i.Key, h.Node)
			return nil
		}
		heads[h.Node] = h
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("audit verify: list heads: %w", err)
	}
	nodes, err := listSegments(ctx, lister, &rep)
	if err != nil {
		return rep, err
	}
	for node := range heads {
		if _, ok := nodes[node]; !ok {
			rep.problem("node %s: head present but every segment is missing", node)
		}
	}
	names := make([]string, 0, len(nodes))
	for n := range nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	rep.Nodes = len(names)
	var claims []claimAt
	for _, o := range opts {
		for _, a := range o.Anchors {
			claims = append(claims, claimAt{a, "anchor"})
		}
	}
	for _, node := range names {
		if err := verifyNode(ctx, st, node, nodes[node], heads, &rep, &claims); err != nil {
			return rep, err
		}
	}
	if err := checkClaims(ctx, src, nodes, claims, &rep); err != nil {
		return rep, err
	}
	if len(rep.Problems) > 0 {
		return rep, fmt.Errorf("%w: %d problem(s), first: %s", ErrTampered, len(rep.Problems), rep.Problems[0])
	}
	return rep, nil
}

// listSegments groups every segment key by node; rep (if not nil) collects
// stray names.
func listSegments(ctx context.Context, lister Source, rep *Report) (map[string][]*segRef, error) {
	nodes := map[string][]*segRef{}
	err := lister.List(ctx, segmentPrefix, func(i storage.Info) error {
		day, node, seq, ok := parseSegmentKey(i.Key)
		if !ok {
			if rep != nil {
				rep.problem("%s: not an audit segment name", i.Key)
			}
			return nil
		}
		nodes[node] = append(nodes[node], &segRef{key: i.Key, day: day, seq: seq})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit verify: list: %w", err)
	}
	return nodes, nil
}

// checkClaims checks that each claimed record is in its node's verified
// chain with the claimed hash. A claim beyond what was listed is checked
// once more against a fresh listing, so segments a live hub wrote while
// Verify ran (and claimed in a checkpoint Verify then read) do not count as
// removed.
func checkClaims(ctx context.Context, st Source, nodes map[string][]*segRef, claims []claimAt, rep *Report) error {
	rep.Claims = len(claims)
	var fresh map[string][]*segRef
	// hashes caches the records of segments read for claims: key → seq → hash.
	hashes := map[string]map[uint64]string{}
	lookup := func(s *segRef, seq uint64) (string, bool, error) {
		m, ok := hashes[s.key]
		if !ok {
			m = map[uint64]string{}
			err := readSegment(ctx, st, s.key, func(r Record, _ []byte) error { m[r.Seq] = r.Hash; return nil })
			if err != nil && !errors.Is(err, errLine) && !errors.Is(err, storage.ErrNotFound) {
				return "", false, fmt.Errorf("audit verify: %w", err)
			}
			hashes[s.key] = m
		}
		h, ok := m[seq]
		return h, ok, nil
	}
	sort.SliceStable(claims, func(i, j int) bool {
		if claims[i].Node != claims[j].Node {
			return claims[i].Node < claims[j].Node
		}
		return claims[i].Seq < claims[j].Seq
	})
	for _, c := range claims {
		segs := nodes[c.Node]
		var end uint64
		for _, s := range segs {
			end = max(end, s.last)
		}
		if c.Seq > end {
			if fresh == nil {
				var err error
				if fresh, err = listSegments(ctx, st, nil); err != nil {
					return err
				}
			}
			segs = nil
			for _, s := range fresh[c.Node] {
				if s.seq >= uint64(len(nodes[c.Node])) { // the last verified segment and any written since
					segs = append(segs, s)
				}
			}
		}
		found := false
		for _, s := range segs {
			if c.Seq <= end && (c.Seq < s.first || c.Seq > s.last) {
				continue
			}
			h, ok, err := lookup(s, c.Seq)
			if err != nil {
				return err
			}
			if ok {
				found = true
				if h != c.Hash {
					rep.problem("node %s: record %d differs from the one %s recorded (record edited or chain rewritten)", c.Node, c.Seq, c.by)
				}
				break
			}
		}
		if found {
			continue
		}
		switch {
		case c.Seq <= end:
			rep.problem("node %s: record %d, which %s recorded, is missing", c.Node, c.Seq, c.by)
		case len(nodes[c.Node]) == 0 && len(segs) == 0:
			rep.problem("node %s: its whole trail is missing, but %s recorded its record %d (node's segments and head removed)", c.Node, c.by, c.Seq)
		default:
			rep.problem("node %s: chain ends at record %d, but %s recorded its record %d (tail removed)", c.Node, end, c.by, c.Seq)
		}
	}
	return nil
}

// Source is the read side of storage.Store that Verify and Search need
// (any storage.Store is one).
type Source interface {
	storage.Reader
	List(ctx context.Context, prefix string, fn func(storage.Info) error) error
}

func verifyNode(ctx context.Context, st storage.Reader, node string, segs []*segRef, heads map[string]head, rep *Report, claims *[]claimAt) error {
	sort.Slice(segs, func(i, j int) bool { return segs[i].seq < segs[j].seq })
	var seq uint64
	prev := ""
	h, hasHead := heads[node]
	headSeen, resync := false, false
	for i, s := range segs {
		rep.Segments++
		want := uint64(i + 1)
		if s.seq != want {
			if i > 0 && s.seq == segs[i-1].seq {
				rep.problem("node %s: segment %d appears twice (%s)", node, s.seq, s.key)
			} else {
				rep.problem("node %s: segment %d missing before %s", node, want, s.key)
			}
			// Keep checking the chain: the record links will show the gap too.
		}
		if i > 0 && s.day.Before(segs[i-1].day) {
			rep.problem("node %s: segment %s dated before its predecessor", node, s.key)
		}
		lines := 0
		err := readSegment(ctx, st, s.key, func(r Record, _ []byte) error {
			lines++
			rep.Records++
			if s.first == 0 {
				s.first = r.Seq
			}
			s.last = r.Seq
			if r.Node != node {
				rep.problem("%s seq %d: record names node %q", s.key, r.Seq, r.Node)
			}
			hashOK := false
			if h, err := computeHash(r); err != nil || h != r.Hash {
				rep.problem("%s seq %d: hash mismatch (record edited)", s.key, r.Seq)
			} else {
				hashOK = true
			}
			if hashOK && r.Action == CheckpointAction {
				by := fmt.Sprintf("node %s's checkpoint (record %d)", node, r.Seq)
				for _, c := range r.Heads {
					if c.Node != node {
						*claims = append(*claims, claimAt{c, by})
					}
				}
			}
			if !resync && r.Seq != seq+1 {
				rep.problem("%s: record seq %d follows %d (record removed, inserted or reordered)", s.key, r.Seq, seq)
			}
			if !resync && r.Prev != prev {
				rep.problem("%s seq %d: chain broken (previous record changed, removed or reordered)", s.key, r.Seq)
			}
			resync = false
			rd := r.Time.UTC()
			if time.Date(rd.Year(), rd.Month(), rd.Day(), 0, 0, 0, 0, time.UTC).After(s.day) {
				rep.problem("%s seq %d: record time %s after the segment's day", s.key, r.Seq, r.Time.Format(time.RFC3339))
			}
			if hasHead && r.Seq == h.Seq {
				headSeen = true
				if r.Hash != h.Hash {
					rep.problem("node %s: record %d differs from the head's hash", node, r.Seq)
				}
			}
			seq, prev = r.Seq, r.Hash
			return nil
		})
		if err != nil {
			if errors.Is(err, errLine) {
				rep.problem("%v", err)
				// The rest of this segment cannot be chained; resync on the
				// next segment's first record (the break is already reported).
				resync = true
				continue
			}
			if errors.Is(err, storage.ErrNotFound) {
				rep.problem("%s: listed but missing", s.key)
				continue
			}
			return fmt.Errorf("audit verify: %w", err)
		}
		if lines == 0 {
			rep.problem("%s: empty segment", s.key)
		}
	}
	if hasHead && !headSeen {
		rep.problem("node %s: chain ends at record %d but its head says %d (tail removed)", node, seq, h.Seq)
	}
	return nil
}

// Query selects records. Zero fields match everything.
type Query struct {
	From, To time.Time // inclusive From, exclusive To
	User     string
	Patient  string
	Site     string
	Action   string // exact, or a prefix ending in '*' ("admin.*")
	Outcome  string
	Limit    int // default 100, at most 1000
}

// maxSearchDays bounds how many day directories one search walks.
const maxSearchDays = 3700

// Search returns records matching q, newest first, at most q.Limit. It
// reads the day directories covering [From, To) (or everything when From
// is zero). Segments that fail to decode are skipped past their bad line
// (Verify reports them).
func Search(ctx context.Context, src Source, q Query) ([]Record, error) {
	st, lister := src, src
	if q.Limit <= 0 {
		q.Limit = 100
	}
	if q.Limit > 1000 {
		return nil, fmt.Errorf("%w: limit %d > 1000", ErrInvalid, q.Limit)
	}
	if !q.To.IsZero() && !q.From.IsZero() && !q.To.After(q.From) {
		return nil, fmt.Errorf("%w: to must be after from", ErrInvalid)
	}
	var prefixes []string
	if q.From.IsZero() {
		prefixes = []string{segmentPrefix}
	} else {
		to := q.To
		if to.IsZero() {
			to = time.Now().Add(24 * time.Hour)
		}
		from := q.From.UTC()
		d := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
		// One extra day: a back-dated record sits in a later day's segment.
		for ; d.Before(to.AddDate(0, 0, 1)); d = d.AddDate(0, 0, 1) {
			if len(prefixes) >= maxSearchDays {
				return nil, fmt.Errorf("%w: time range longer than %d days", ErrInvalid, maxSearchDays)
			}
			prefixes = append(prefixes, fmt.Sprintf("%s%04d/%02d/%02d/", segmentPrefix, d.Year(), d.Month(), d.Day()))
		}
	}
	var out []Record
	for _, p := range prefixes {
		var keys []string
		if err := lister.List(ctx, p, func(i storage.Info) error {
			if _, _, _, ok := parseSegmentKey(i.Key); ok {
				keys = append(keys, i.Key)
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("audit search: %w", err)
		}
		for _, k := range keys {
			err := readSegment(ctx, st, k, func(r Record, _ []byte) error {
				if q.match(r) {
					out = append(out, r)
					if len(out) > 10*q.Limit {
						trimNewest(&out, q.Limit)
					}
				}
				return nil
			})
			if err != nil && !errors.Is(err, errLine) {
				return nil, fmt.Errorf("audit search: %w", err)
			}
		}
	}
	trimNewest(&out, q.Limit)
	return out, nil
}

func trimNewest(rs *[]Record, n int) {
	sort.SliceStable(*rs, func(i, j int) bool {
		a, b := (*rs)[i], (*rs)[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.After(b.Time)
		}
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return a.Seq > b.Seq
	})
	if len(*rs) > n {
		*rs = (*rs)[:n]
	}
}

func (q Query) match(r Record) bool {
	if !q.From.IsZero() && r.Time.Before(q.From) {
		return false
	}
	if !q.To.IsZero() && !r.Time.Before(q.To) {
		return false
	}
	if q.User != "" && r.User != q.User {
		return false
	}
	if q.Patient != "" && r.Patient != q.Patient {
		return false
	}
	if q.Site != "" && r.Site != q.Site {
		return false
	}
	if q.Outcome != "" && r.Outcome != q.Outcome {
		return false
	}
	if q.Action != "" {
		if p, ok := strings.CutSuffix(q.Action, "*"); ok {
			if !strings.HasPrefix(r.Action, p) {
				return false
			}
		} else if r.Action != q.Action {
			return false
		}
	}
	return true
}

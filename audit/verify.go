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
	Nodes    int      `json:"nodes"`
	Segments int      `json:"segments"`
	Records  int      `json:"records"`
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
}

// Verify walks every node's chain and reports each break: a record whose
// bytes were edited (hash or canonical form mismatch), a removed, inserted
// or reordered record (sequence or prev-hash break), a removed segment (gap
// in segment numbers or in the chain across segments), a truncated tail
// (shorter than the node's head) and stray objects under audit/. It
// returns the report and, if there is any problem, an error matching
// ErrTampered. Storage errors are returned as such.
func Verify(ctx context.Context, src Source) (Report, error) {
	st, lister := src, src
	var rep Report
	nodes := map[string][]segRef{}
	err := lister.List(ctx, segmentPrefix, func(i storage.Info) error {
		day, node, seq, ok := parseSegmentKey(i.Key)
		if !ok {
			rep.problem("%s: not an audit segment name", i.Key)
			return nil
		}
		nodes[node] = append(nodes[node], segRef{key: i.Key, day: day, seq: seq})
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("audit verify: list: %w", err)
	}
	heads := map[string]head{}
	err = lister.List(ctx, headPrefix, func(i storage.Info) error {
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
	for _, node := range names {
		if err := verifyNode(ctx, st, node, nodes[node], heads, &rep); err != nil {
			return rep, err
		}
	}
	if len(rep.Problems) > 0 {
		return rep, fmt.Errorf("%w: %d problem(s), first: %s", ErrTampered, len(rep.Problems), rep.Problems[0])
	}
	return rep, nil
}

// Source is the read side of storage.Store that Verify and Search need
// (any storage.Store is one).
type Source interface {
	storage.Reader
	List(ctx context.Context, prefix string, fn func(storage.Info) error) error
}

func verifyNode(ctx context.Context, st storage.Reader, node string, segs []segRef, heads map[string]head, rep *Report) error {
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
			if r.Node != node {
				rep.problem("%s seq %d: record names node %q", s.key, r.Seq, r.Node)
			}
			if h, err := computeHash(r); err != nil || h != r.Hash {
				rep.problem("%s seq %d: hash mismatch (record edited)", s.key, r.Seq)
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

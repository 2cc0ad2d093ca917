// Package redis is the catalog.Catalog backend for production: many
// stateless Huren replicas share one Redis (7.0+).
//
// Layout and atomicity are documented in scripts.go: every Put and Delete
// is one Lua script; every key is built by Catalog.key (Go) or the scripts'
// B..name helpers (Lua) from one configurable prefix, so tests and tenants
// isolate by prefix on a shared server.
//
// Searching uses the shared engine (catalog.Execute) over summaries the
// scripts maintain: a study is one hash holding its representative's study
// attributes and its aggregates, so a QIDO study search reads one hash per
// candidate. Candidates come, in the canonical order, from the cheapest
// index the query allows (search.go, route):
//   - a StudyInstanceUID list, the PatientID or AccessionNumber sets;
//   - a PatientName prefix without separators standing for a few words:
//     each word's zset (x:pnw, in date order) is walked, or intersected
//     (ZINTER, with its scores) with the modality/site sets when small;
//   - with both a modality and a site scope, the modality+site pair sets
//     (x:ms, e.g. MG from site07 or site08) when small;
//   - a small (≤ 2,000 studies) PatientName-prefix (x:pn), modality or
//     site set, or a small intersection of both groups (one ZINTER per
//     pair of sets, with the date index for the scores), gathered, scored
//     and sorted in Go;
//   - otherwise the date index (restricted to the StudyDate range) is
//     walked in order by rank: by walkScript, which tests modality/site
//     set membership and the name prefix inside Redis a batch at a time,
//     or, without such filters, in chunks read directly (skipping Offset
//     inside Redis when every entry is a result).
//
// Names are pre-filtered on their stored values (x:pnn) before summaries
// are read. Every key is then checked by the shared engine, so indexes only
// ever narrow the candidates. The word index and the pair sets are used
// only when they cover every study (x:count = ZCARD x:date): a catalog
// indexed by an older version searches as before until `huren reindex`
// (or until every study has been Put again). Replicas of an older version
// must not write beside this one: they would not maintain these indexes. Measured with
// 100,000 studies: see BenchmarkSearch100k in bench_test.go.
//
// Concurrency: a Catalog is safe for concurrent use, and any number of
// replicas may share a prefix. A search spans several round trips and is
// not a snapshot: a study changed meanwhile may appear in its old or new
// state, and paging during ingest may shift by the studies inserted before
// the page. Reset is not atomic with concurrent writers.
package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	goredis "github.com/redis/go-redis/v9"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomjson"
)

var _ catalog.Catalog = (*Catalog)(nil)

// DefaultPrefix is the key prefix when Config.Prefix is empty.
const DefaultPrefix = "huren:catalog"

// Config selects the Redis server.
type Config struct {
	Addr     string // host:port; required
	Username string
	Password string
	DB       int
	// Prefix of every key (default DefaultPrefix); it is wrapped in braces
	// as a Cluster hash tag.
	Prefix string
	// DialTimeout and ReadTimeout default to go-redis' defaults (5 s, 3 s).
	DialTimeout time.Duration
	ReadTimeout time.Duration
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Addr == "" {
		return errors.New("catalog redis: Addr is required")
	}
	if strings.ContainsAny(c.Prefix, "{}") {
		return errors.New("catalog redis: Prefix must not contain braces")
	}
	return nil
}

// Catalog is a Redis-backed catalog.Catalog.
type Catalog struct {
	rdb    goredis.UniversalClient
	own    bool
	base   string
	log    *slog.Logger
	closed sync.Once
}

// New returns a catalog using an existing client (shared with other
// components); Close does not close the client. No I/O happens here.
// logger may be nil (silent).
func New(rdb goredis.UniversalClient, prefix string, logger *slog.Logger) *Catalog {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Catalog{rdb: rdb, base: "{" + prefix + "}:", log: logger.With("component", "catalog.redis")}
}

// Open creates a client from cfg and pings the server; an unreachable
// server is catalog.ErrUnavailable. The returned Catalog owns the client.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Catalog, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rdb := goredis.NewClient(&goredis.Options{Addr: cfg.Addr, Username: cfg.Username, Password: cfg.Password,
		DB: cfg.DB, DialTimeout: cfg.DialTimeout, ReadTimeout: cfg.ReadTimeout})
	c := New(rdb, cfg.Prefix, logger)
	c.own = true
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, c.fail("ping "+cfg.Addr, err)
	}
	return c, nil
}

// key builds every key of the catalog: base ("{prefix}:") followed by the
// parts joined with ':'. UIDs never contain ':' (catalog.Normalize).
func (c *Catalog) key(parts ...string) string {
	return c.base + strings.Join(parts, ":")
}

// fail wraps a Redis error: connection problems become
// catalog.ErrUnavailable, context errors stay themselves.
func (c *Catalog) fail(op string, err error) error {
	var rerr goredis.Error
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("catalog redis %s: %w", op, err)
	case errors.As(err, &rerr):
		return fmt.Errorf("catalog redis %s: %w", op, err)
	default:
		return fmt.Errorf("catalog redis %s: %w: %w", op, catalog.ErrUnavailable, err)
	}
}

// decodeRecord decodes a stored "rec" value (see catalog.DecodeRecord).
func decodeRecord(s string) (catalog.Record, error) {
	rec, err := catalog.DecodeRecord([]byte(s))
	if err != nil {
		return catalog.Record{}, fmt.Errorf("catalog redis: %w", err)
	}
	return rec, nil
}

// Put implements catalog.Catalog.
func (c *Catalog) Put(ctx context.Context, rec catalog.Record) error {
	rec, err := catalog.Normalize(rec)
	if err != nil {
		return err
	}
	keys, args, err := c.putArgs(rec)
	if err != nil {
		return err
	}
	if err := putScript.Run(ctx, c.rdb, keys, args...).Err(); err != nil {
		return c.fail("put "+rec.InstanceUID, err)
	}
	return nil
}

// putArgs prepares KEYS and ARGV of putScript (see scripts.go).
func (c *Catalog) putArgs(rec catalog.Record) ([]string, []any, error) {
	stored := rec
	stored.Attrs = catalog.InstancePart(rec)
	recJSON, err := json.Marshal(stored)
	if err != nil {
		return nil, nil, fmt.Errorf("catalog redis put %s: %w", rec.InstanceUID, err)
	}
	keyRec := rec
	keyRec.Attrs = catalog.KeyAttrs(rec.Attrs)
	keyJSON, err := json.Marshal(keyRec)
	if err != nil {
		return nil, nil, fmt.Errorf("catalog redis put %s: %w", rec.InstanceUID, err)
	}
	stPart := catalog.StudyPart(rec)
	stJSON, err1 := json.Marshal(stPart)
	seJSON, err2 := json.Marshal(catalog.SeriesPart(rec))
	mods := catalog.Modalities(rec)
	if mods == nil {
		mods = []string{}
	}
	modsJSON, err3 := json.Marshal(mods)
	idxJSON, err4 := json.Marshal(c.studyIndex(rec.StudyUID, stPart))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, nil, fmt.Errorf("catalog redis put %s: %w", rec.InstanceUID, err)
	}
	score := catalog.StudyScore(stPart)
	keys := []string{c.key("i", rec.InstanceUID), c.key("x", "date")}
	args := []any{c.base, rec.InstanceUID, rec.StudyUID, rec.SeriesUID, rec.Site,
		strconv.FormatInt(catalog.ReceivedScore(rec.ReceivedAt), 10), recJSON,
		contentID(stJSON), stJSON, idxJSON, strconv.FormatInt(score, 10), contentID(seJSON), seJSON, modsJSON,
		map[bool]string{true: "1", false: "0"}[indexWords], keyJSON}
	return keys, args, nil
}

// contentID names a stored study or series part by its content.
func contentID(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:12])
}

// studyIndex lists the index entries of a study whose representative has
// the given study part (the "stidx" of scripts.go).
func (c *Catalog) studyIndex(study string, stPart dicomjson.Dataset) [][]string {
	out := [][]string{}
	for _, v := range catalog.IndexValues(stPart, catalog.TagPatientID) {
		out = append(out, []string{"s", c.key("x", "pid", v)})
	}
	for _, v := range catalog.IndexValues(stPart, catalog.TagAccessionNumber) {
		out = append(out, []string{"s", c.key("x", "acc", v)})
	}
	seen := map[string]bool{}
	var toks []string
	names := stPart.Strings(catalog.TagPatientName)
	for _, name := range names {
		for _, tok := range catalog.PNTokens(name) {
			if !seen[tok] {
				seen[tok] = true
				toks = append(toks, tok)
				out = append(out, []string{"z", c.key("x", "pn"), tok + "\x00" + study})
			}
		}
	}
	if len(toks) > 0 {
		out = append(out, []string{"h", c.key("x", "pnv"), "\x1f" + strings.Join(toks, "\x1f")})
	}
	if indexWords {
		if len(toks) > 0 {
			b, _ := json.Marshal(names) // strings: cannot fail
			out = append(out, []string{"h", c.key("x", "pnn"), string(b)})
		}
		for _, tok := range toks {
			if isWord(tok) {
				out = append(out, []string{"w", c.key("x", "pnw", tok), c.key("x", "pnwd"), tok})
			}
		}
		out = append(out, []string{"c", c.key("x", "count"), "words"})
	}
	return out
}

// indexWords is false only in tests that imitate data indexed before the
// word index and the modality+site pair sets existed.
var indexWords = true

// isWord reports whether a PN token is a word: it holds no group,
// component or word separator. Every token starts with a word of the same
// name (the first word of its first component), so the studies with a
// token starting with a separator-free prefix are exactly those with a
// word starting with it.
func isWord(tok string) bool {
	return !strings.ContainsAny(tok, "=^") && !strings.ContainsFunc(tok, unicode.IsSpace)
}

// Instance implements catalog.Catalog.
func (c *Catalog) Instance(ctx context.Context, uid string) (catalog.Record, error) {
	recs, err := c.records(ctx, c.key("i", uid), "i", uid)
	if err != nil {
		return catalog.Record{}, err
	}
	if len(recs) == 0 {
		return catalog.Record{}, fmt.Errorf("catalog instance %s: %w", uid, catalog.ErrNotFound)
	}
	return recs[0], nil
}

// records runs recordsScript (mode "z": key is a zset; "i": key is the
// instance key of sop) and merges each record's parts back together.
func (c *Catalog) records(ctx context.Context, key, mode string, sop ...string) ([]catalog.Record, error) {
	args := []any{c.base, mode}
	for _, s := range sop {
		args = append(args, s)
	}
	raw, err := recordsScript.Run(ctx, c.rdb, []string{key}, args...).StringSlice()
	if err != nil {
		return nil, c.fail("records "+key, err)
	}
	out := make([]catalog.Record, 0, len(raw)/3)
	for i := 0; i+2 < len(raw); i += 3 {
		r, err := decodeRecord(raw[i])
		if err != nil {
			return nil, err
		}
		for _, part := range raw[i+1 : i+3] {
			d, err := dicomjson.Decode([]byte(part))
			if err != nil {
				return nil, fmt.Errorf("catalog redis: stored part of %s: %w", r.InstanceUID, err)
			}
			for t, e := range d {
				r.Attrs[t] = e
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// Instances implements catalog.Catalog.
func (c *Catalog) Instances(ctx context.Context, studyUID, seriesUID string) ([]catalog.Record, error) {
	zset := c.key("st", studyUID, "i")
	if seriesUID != "" {
		zset = c.key("se", studyUID, seriesUID, "i")
	}
	recs, err := c.records(ctx, zset, "z")
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("catalog instances %s %s: %w", studyUID, seriesUID, catalog.ErrNotFound)
	}
	catalog.SortRecords(recs)
	return recs, nil
}

// Delete implements catalog.Catalog.
func (c *Catalog) Delete(ctx context.Context, uid string) error {
	if err := deleteScript.Run(ctx, c.rdb, []string{c.key("i", uid)}, c.base, uid).Err(); err != nil {
		return c.fail("delete "+uid, err)
	}
	return nil
}

// Reset implements catalog.Catalog: it unlinks every key under the prefix.
func (c *Catalog) Reset(ctx context.Context) error {
	pattern := globEscape(c.base) + "*"
	var cursor uint64
	for {
		keys, next, err := c.rdb.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return c.fail("reset scan", err)
		}
		if len(keys) > 0 {
			if err := c.rdb.Unlink(ctx, keys...).Err(); err != nil {
				return c.fail("reset unlink", err)
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Close closes the client if Open created it; safe to call more than once.
func (c *Catalog) Close() error {
	var err error
	c.closed.Do(func() {
		if c.own {
			err = c.rdb.Close()
		}
	})
	return err
}

// Search implements catalog.Catalog.
func (c *Catalog) Search(ctx context.Context, q catalog.Query) ([]dicomjson.Dataset, error) {
	p, err := catalog.Compile(q)
	if err != nil {
		return nil, err
	}
	return catalog.Execute(ctx, p, &source{c: c, series: map[string][]string{}, frac: 1, setFrac: 1})
}

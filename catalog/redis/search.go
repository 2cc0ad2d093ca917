package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomjson"
)

// Tuning of the candidate search (variables so that tests can force every
// path on small data sets).
var (
	// materializeMax is the largest candidate set gathered from an index
	// and sorted in Go; larger ones are cheaper to meet while walking the
	// date index in order.
	materializeMax = 2000
	// intersectMax is the largest expected intersection of index sets
	// gathered with ZINTER (sized like materializeMax: what is gathered is
	// sorted the same way).
	intersectMax = 2000
	// intersectScan bounds the set entries the intersections may walk
	// (Redis walks the smallest set of each intersection): beyond it,
	// walking the date index is cheaper.
	intersectScan = 20000
	// maxWords bounds the words a name prefix may stand for to be searched
	// through the word index (x:pnw); "W*" matching dozens of words walks
	// the date index instead.
	maxWords = 8
	// Chunk sizes of the walk over the date index: the first chunk is the
	// page (offset+limit) or minChunk, then it doubles up to maxChunk.
	minChunk = 64
	maxChunk = 8192
)

// maxCombos bounds the intersections gathered for one search (one per
// combination of a set of each group): a query naming many modalities at
// many sites walks an index instead.
const maxCombos = 16

// maxPairs bounds the modality+site pair sets a search reads.
const maxPairs = 64

// source is one search's view of the catalog (catalog.Source).
type source struct {
	c *Catalog
	// series caches the series UIDs of the studies read during the scan,
	// so expanding a study to its series costs one round trip.
	series map[string][]string
	// frac estimates the fraction of studies the pre-filters keep (1 when
	// unknown; groups are assumed independent), to size the first chunk of
	// a walk; setFrac the fraction the modality and site groups keep.
	frac, setFrac float64
}

// route is how a search meets its candidates: a gathered list, or a walk
// over a zset ordered like the results.
type route struct {
	// ids, when non-nil, are the gathered candidates; scores, when
	// non-nil, their StudyScores (else read from the date index).
	ids    []string
	scores []int64
	// used names the pre-filters every candidate is known to pass: "mod"
	// or "site" (that set group), "sets" (both groups), "name" (the name
	// prefix).
	used string
	// walk, when ids is nil, is the zset walked: the date index, or the
	// zset of the one word a name prefix stands for (every member has the
	// prefix). prefix is the name prefix still to test while walking.
	walk   string
	prefix string
}

func (s *source) ScanStudies(ctx context.Context, p *catalog.Plan, fn func(catalog.StudyView) bool) error {
	r, err := s.route(ctx, p)
	if err != nil {
		return err
	}
	if r.ids != nil {
		return s.walkList(ctx, p, r, fn)
	}
	return s.walkIndex(ctx, p, r, fn)
}

// setGroup is the modality or site set group of a plan: a study must be in
// one of its sets.
type setGroup struct {
	kind  string
	keys  []string
	cards []*goredis.IntCmd
	n     int64 // sum of the set sizes
}

// route picks the cheapest way to the candidates the plan allows, from
// the sizes of the indexes it could use (one round trip).
func (s *source) route(ctx context.Context, p *catalog.Plan) (route, error) {
	c := s.c
	date := c.key("x", "date")
	union := func(kind string, vals []string) (route, error) {
		keys := make([]string, len(vals))
		for i, v := range vals {
			keys[i] = c.key("x", kind, v)
		}
		if len(keys) == 0 {
			return route{ids: []string{}}, nil
		}
		ids, err := c.rdb.SUnion(ctx, keys...).Result()
		if err != nil {
			return route{}, c.fail("search index "+kind, err)
		}
		return route{ids: ids, used: kind}, nil
	}
	switch {
	case p.StudyUIDs != nil:
		return route{ids: p.StudyUIDs}, nil
	case p.PatientIDs != nil:
		r, err := union("pid", p.PatientIDs)
		r.used = ""
		return r, err
	case p.Accessions != nil:
		r, err := union("acc", p.Accessions)
		r.used = ""
		return r, err
	}
	var groups []*setGroup
	for _, g := range []struct {
		kind string
		vals []string
	}{{"mod", p.Modalities}, {"site", siteList(p)}} {
		if g.vals != nil {
			sg := &setGroup{kind: g.kind}
			for _, v := range g.vals {
				sg.keys = append(sg.keys, c.key("x", g.kind, v))
			}
			groups = append(groups, sg)
		}
	}
	if p.NamePrefix == "" && groups == nil {
		return route{walk: date}, nil
	}

	// MULTI: the word count and the date index size must be read together.
	pipe := c.rdb.TxPipeline()
	total := pipe.ZCard(ctx, date)
	for _, g := range groups {
		for _, k := range g.keys {
			g.cards = append(g.cards, pipe.SCard(ctx, k))
		}
	}
	lo, hi := "["+p.NamePrefix, "["+p.NamePrefix+"\xff"
	var lexCount *goredis.IntCmd
	var words *goredis.StringSliceCmd
	var indexed *goredis.StringCmd
	if p.NamePrefix != "" {
		lexCount = pipe.ZLexCount(ctx, c.key("x", "pn"), lo, hi)
		if isWord(p.NamePrefix) {
			words = pipe.ZRangeByLex(ctx, c.key("x", "pnwd"), &goredis.ZRangeBy{Min: lo, Max: hi, Count: int64(maxWords) + 1})
			indexed = pipe.HGet(ctx, c.key("x", "count"), "words")
		}
	}
	// The modality+site pair sets, when the query has both groups.
	var pairKeys []string
	var pairCards []*goredis.IntCmd
	var pairsIndexed *goredis.StringCmd
	if len(groups) == 2 && len(p.Modalities)*len(p.Sites) <= maxPairs {
		for _, m := range p.Modalities {
			for _, site := range siteList(p) {
				pairKeys = append(pairKeys, c.key("x", "ms", strconv.Itoa(len(m)), m+":"+site))
				pairCards = append(pairCards, pipe.SCard(ctx, pairKeys[len(pairKeys)-1]))
			}
		}
		pairsIndexed = pipe.HGet(ctx, c.key("x", "count"), "pairs")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return route{}, c.fail("search index sizes", err)
	}
	t := total.Val()
	for _, g := range groups {
		for _, cmd := range g.cards {
			g.n += cmd.Val()
		}
		if t > 0 {
			s.frac *= float64(g.n) / float64(t) // independence assumed
			s.setFrac *= float64(g.n) / float64(t)
		}
	}

	if words != nil && len(words.Val()) <= maxWords && indexed.Val() == strconv.FormatInt(t, 10) {
		// Every study is in the word index, and the prefix stands for a
		// few words.
		return s.routeWords(ctx, p, words.Val(), groups, t)
	}
	if lexCount != nil {
		// A study has about three tokens with a given prefix (the whole
		// name, the group, the component), hence the factors of 3.
		if lexCount.Val() <= 3*int64(materializeMax) {
			members, err := c.rdb.ZRangeByLex(ctx, c.key("x", "pn"), &goredis.ZRangeBy{Min: lo, Max: hi}).Result()
			if err != nil {
				return route{}, c.fail("search name index", err)
			}
			seen := map[string]bool{}
			ids := []string{}
			for _, m := range members {
				if i := strings.LastIndexByte(m, 0); i >= 0 && !seen[m[i+1:]] {
					seen[m[i+1:]] = true
					ids = append(ids, m[i+1:])
				}
			}
			return route{ids: ids, used: "name"}, nil
		}
		if t > 0 {
			s.frac *= min(float64(lexCount.Val())/3/float64(t), 1)
		}
	}
	if pairsIndexed != nil && pairsIndexed.Val() == strconv.FormatInt(t, 10) {
		// Every study is in the pair sets: the studies with a modality
		// from a site are one of them (a rare modality at two sites:
		// neither group is small, but these sets are).
		var n int64
		for _, cmd := range pairCards {
			n += cmd.Val()
		}
		if n <= int64(materializeMax) {
			if len(pairKeys) == 0 {
				return route{ids: []string{}}, nil
			}
			ids, err := c.rdb.SUnion(ctx, pairKeys...).Result()
			if err != nil {
				return route{}, c.fail("search index pairs", err)
			}
			return route{ids: ids, used: "sets"}, nil
		}
		if t > 0 {
			s.frac = min(s.frac, float64(n)/float64(t))
			s.setFrac = min(s.setFrac, float64(n)/float64(t))
		}
	}
	// A small modality or site set is worth gathering, and so is a small
	// intersection of both groups (e.g. a rare modality at two sites:
	// neither set is small, but their intersection is).
	var best *setGroup
	for _, g := range groups {
		if g.n <= int64(materializeMax) && (best == nil || g.n < best.n) {
			best = g
		}
	}
	if best != nil {
		vals := p.Modalities
		if best.kind == "site" {
			vals = siteList(p)
		}
		return union(best.kind, vals)
	}
	if len(groups) == 2 {
		sizes := map[string]int64{date: t}
		if r, ok, err := s.intersect(ctx, []string{date}, sizes, groups, t); ok || err != nil {
			return r, err
		}
	}
	return route{walk: date, prefix: p.NamePrefix}, nil
}

// routeWords routes a search whose name prefix stands for the given words
// (all of them, at most maxWords): each word's zset holds exactly the
// studies with that word, in date order.
func (s *source) routeWords(ctx context.Context, p *catalog.Plan, words []string, groups []*setGroup, total int64) (route, error) {
	c := s.c
	if len(words) == 0 {
		return route{ids: []string{}}, nil // no name has such a word
	}
	keys := make([]string, len(words))
	pipe := c.rdb.Pipeline()
	cards := make([]*goredis.IntCmd, len(words))
	for i, w := range words {
		keys[i] = c.key("x", "pnw", w)
		cards[i] = pipe.ZCard(ctx, keys[i])
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return route{}, c.fail("search word index", err)
	}
	sizes := map[string]int64{}
	var n int64
	for i, k := range keys {
		sizes[k] = cards[i].Val()
		n += cards[i].Val()
	}
	if total > 0 {
		s.frac *= min(float64(n)/float64(total), 1)
	}
	if groups != nil {
		if r, ok, err := s.intersect(ctx, keys, sizes, groups, total); ok || err != nil {
			return r, err
		}
	}
	if len(keys) == 1 {
		return route{walk: keys[0]}, nil
	}
	if n <= int64(materializeMax) {
		// Gather the words' studies with their scores (a study may have
		// several of the words).
		pipe := c.rdb.Pipeline()
		zs := make([]*goredis.ZSliceCmd, len(keys))
		for i, k := range keys {
			zs[i] = pipe.ZRangeWithScores(ctx, k, 0, -1)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return route{}, c.fail("search word index", err)
		}
		r := unionRoute("name", zs)
		return r, nil
	}
	return route{walk: c.key("x", "date"), prefix: p.NamePrefix}, nil
}

// intersect gathers, with their StudyScores, the members of the score
// zsets (the date index, or word zsets) that are in a set of every group,
// with one ZINTER per combination, when the combinations are few and the
// expected result small (independence assumed; a correlated combination
// returns more, never a wrong result) and cheap to compute (Redis walks
// the smallest input of each). ok is false when it is not worth it.
func (s *source) intersect(ctx context.Context, scoreKeys []string, sizes map[string]int64, groups []*setGroup, total int64) (route, bool, error) {
	combos := [][]string{{}}
	for _, g := range groups {
		var next [][]string
		for _, cmb := range combos {
			for i, k := range g.keys {
				sizes[k] = g.cards[i].Val()
				next = append(next, append(cmb[:len(cmb):len(cmb)], k))
			}
		}
		combos = next
	}
	if total <= 0 || len(scoreKeys)*len(combos) > maxCombos {
		return route{}, false, nil
	}
	var est float64
	var scan int64
	for _, sk := range scoreKeys {
		for _, cmb := range combos {
			e, smallest := float64(sizes[sk]), sizes[sk]
			for _, k := range cmb {
				e *= float64(sizes[k]) / float64(total)
				smallest = min(smallest, sizes[k])
			}
			est += e
			scan += smallest
		}
	}
	if est > float64(intersectMax) || scan > int64(intersectScan) {
		return route{}, false, nil
	}
	c := s.c
	pipe := c.rdb.Pipeline()
	var cmds []*goredis.ZSliceCmd
	for _, sk := range scoreKeys {
		for _, cmb := range combos {
			// The sets' members score 1: weight 0 keeps the score key's.
			weights := make([]float64, len(cmb)+1)
			weights[0] = 1
			cmds = append(cmds, pipe.ZInterWithScores(ctx, &goredis.ZStore{Keys: append([]string{sk}, cmb...), Weights: weights}))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return route{}, false, c.fail("search index intersection", err)
	}
	return unionRoute("sets", cmds), true, nil
}

func siteList(p *catalog.Plan) []string {
	if p.Sites == nil {
		return nil
	}
	out := make([]string, 0, len(p.Sites))
	for s := range p.Sites {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// walkList orders a gathered candidate list by the date index and yields
// it chunk by chunk.
func (s *source) walkList(ctx context.Context, p *catalog.Plan, r route, fn func(catalog.StudyView) bool) error {
	ids := r.ids
	if len(ids) == 0 {
		return nil
	}
	scores := r.scores
	if scores == nil {
		fs, err := s.c.rdb.ZMScore(ctx, s.c.key("x", "date"), ids...).Result()
		if err != nil {
			return s.c.fail("search scores", err)
		}
		scores = make([]int64, len(fs))
		for i, f := range fs {
			scores[i] = int64(f)
		}
	}
	type cand struct {
		uid   string
		score int64
	}
	cs := make([]cand, 0, len(ids))
	for i, id := range ids {
		sc := scores[i]
		if p.DateRange && (sc < p.ScoreMin || sc > p.ScoreMax) {
			continue
		}
		cs = append(cs, cand{id, sc})
	}
	sort.Slice(cs, func(i, j int) bool { return catalog.StudyBefore(cs[i].score, cs[i].uid, cs[j].score, cs[j].uid) })
	chunk := min(max(p.Offset+p.Limit, minChunk), maxChunk)
	for start := 0; start < len(cs); {
		end := min(start+chunk, len(cs))
		batch := make([]string, 0, end-start)
		for _, x := range cs[start:end] {
			batch = append(batch, x.uid)
		}
		more, err := s.yield(ctx, p, batch, r.used, fn)
		if err != nil || !more {
			return err
		}
		start, chunk = end, min(chunk*2, maxChunk)
	}
	return nil
}

// walkIndex walks r.walk (the date index or a word's zset) in canonical
// order, restricted to the StudyDate range.
func (s *source) walkIndex(ctx context.Context, p *catalog.Plan, r route, fn func(catalog.StudyView) bool) error {
	lo, hi := "-inf", "+inf"
	if p.DateRange {
		lo, hi = strconv.FormatInt(p.ScoreMin, 10), strconv.FormatInt(p.ScoreMax, 10)
	}
	var groups [][]string
	for _, g := range []struct {
		kind string
		vals []string
	}{{"mod", p.Modalities}, {"site", siteList(p)}} {
		if g.vals != nil {
			keys := make([]string, len(g.vals))
			for i, v := range g.vals {
				keys[i] = s.c.key("x", g.kind, v)
			}
			groups = append(groups, keys)
		}
	}
	date := s.c.key("x", "date")
	if groups != nil || r.prefix != "" || r.walk != date {
		return s.walkSets(ctx, p, r.walk, lo, hi, r.prefix, groups, fn)
	}
	offset := int64(0)
	want := p.Offset + p.Limit
	if p.DateIndexExact() {
		// Every entry is a result: skip the offset inside Redis.
		offset, p.Skipped, want = int64(p.Offset), p.Offset, p.Limit
	}
	chunk := maxChunk
	if est := float64(want) / s.frac * 1.25; s.frac > 0 && est < float64(maxChunk) {
		chunk = max(int(est), minChunk)
	}
	for {
		ids, err := s.c.rdb.ZRevRangeByScore(ctx, date, &goredis.ZRangeBy{
			Min: lo, Max: hi, Offset: offset, Count: int64(chunk)}).Result()
		if err != nil {
			return s.c.fail("search date index", err)
		}
		more, err := s.yield(ctx, p, ids, "", fn)
		if err != nil || !more || len(ids) < chunk {
			return err
		}
		offset += int64(len(ids))
		chunk = min(chunk*2, maxChunk)
	}
}

// walkSets walks a zset ordered like the results (the date index or a
// word's zset) with walkScript, which keeps only the studies in the
// modality/site set groups and with the name prefix.
func (s *source) walkSets(ctx context.Context, p *catalog.Plan, key, lo, hi, prefix string, groups [][]string, fn func(catalog.StudyView) bool) error {
	want := max(p.Offset+p.Limit, minChunk)
	frac := s.frac // of the date index
	if key != s.c.key("x", "date") {
		frac = s.setFrac // of a word's zset: every entry has the name
	}
	batch := 4000 // Lua's unpack takes up to ~8000 values
	if est := float64(want) / frac * 1.25; frac > 0 && est < float64(batch) {
		batch = max(int(est), minChunk)
	}
	args := []any{lo, hi, 0, want, walkScan, s.c.key("x", "pnv"), prefix, len(groups), batch}
	for _, g := range groups {
		args = append(args, len(g))
		for _, k := range g {
			args = append(args, k)
		}
	}
	for {
		res, err := walkScript.Run(ctx, s.c.rdb, []string{key}, args...).Slice()
		if err != nil {
			return s.c.fail("search walk", err)
		}
		if len(res) < 2 {
			return s.c.fail("search walk", fmt.Errorf("short reply %v", res))
		}
		next, _ := res[0].(int64)
		done, _ := res[1].(int64)
		ids := make([]string, 0, len(res)-2)
		for _, v := range res[2:] {
			if id, ok := v.(string); ok {
				ids = append(ids, id)
			}
		}
		more, err := s.yield(ctx, p, ids, "sets", fn)
		if err != nil || !more || done == 1 {
			return err
		}
		args[2] = next
	}
}

// walkScan bounds the index entries one walkScript call examines (a few
// milliseconds of Redis time).
var walkScan = 20000

// yield pre-filters a batch of study UIDs by the modality and site sets,
// reads the survivors' summaries and passes them to fn in batch order.
func (s *source) yield(ctx context.Context, p *catalog.Plan, ids []string, used string, fn func(catalog.StudyView) bool) (bool, error) {
	c := s.c
	if len(ids) == 0 {
		return true, nil
	}
	keep := make([]bool, len(ids))
	for i := range keep {
		keep[i] = true
	}
	pipe := c.rdb.Pipeline()
	var groups [][]*goredis.BoolSliceCmd
	for _, g := range []struct {
		kind string
		vals []string
	}{{"mod", p.Modalities}, {"site", siteList(p)}} {
		if g.vals == nil || g.kind == used || used == "sets" {
			continue
		}
		var cmds []*goredis.BoolSliceCmd
		for _, v := range g.vals {
			cmds = append(cmds, pipe.SMIsMember(ctx, c.key("x", g.kind, v), toAny(ids)...))
		}
		groups = append(groups, cmds)
	}
	if pipe.Len() > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return false, c.fail("search prefilter", err)
		}
		for _, cmds := range groups {
			for i := range ids {
				in := false
				for _, cmd := range cmds {
					in = in || cmd.Val()[i]
				}
				keep[i] = keep[i] && in
			}
		}
	}
	if p.HasStudyKey(catalog.TagPatientName) && used != "name" {
		if err := s.prefilterNames(ctx, p, ids, keep); err != nil {
			return false, err
		}
	}
	pipe = c.rdb.Pipeline()
	hs := make([]*goredis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		if keep[i] {
			hs[i] = pipe.HGetAll(ctx, c.key("st", id))
		}
	}
	if pipe.Len() > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return false, c.fail("search summaries", err)
		}
	}
	for i, id := range ids {
		if hs[i] == nil {
			continue
		}
		v, ok, err := s.decodeStudy(id, hs[i].Val())
		if err != nil {
			return false, err
		}
		if ok && !fn(v) {
			return false, nil
		}
	}
	return true, nil
}

// prefilterNames drops (keep[i] = false) the studies whose PatientName
// cannot match: names are small, so reading them for a batch is cheaper
// than reading the summaries of studies that do not match.
func (s *source) prefilterNames(ctx context.Context, p *catalog.Plan, ids []string, keep []bool) error {
	c := s.c
	var idx []int
	var args []string
	for i, id := range ids {
		if keep[i] {
			idx, args = append(idx, i), append(args, id)
		}
	}
	if len(args) == 0 {
		return nil
	}
	// The names themselves (x:pnn), so that the matcher tokenizes each
	// once; studies indexed by older versions have only their tokens
	// (x:pnv).
	names, err := c.rdb.HMGet(ctx, c.key("x", "pnn"), args...).Result()
	if err != nil {
		return c.fail("search name prefilter", err)
	}
	var old []int
	for j, v := range names {
		str, ok := v.(string)
		if !ok {
			old = append(old, j)
			continue
		}
		var vals []string
		if err := json.Unmarshal([]byte(str), &vals); err != nil {
			return c.fail("search name prefilter", fmt.Errorf("names of %s: %w", args[j], err))
		}
		e := &dicomjson.Element{VR: "PN", Value: toAny(vals)}
		keep[idx[j]] = p.MatchStudyElement(catalog.TagPatientName, e)
	}
	if len(old) == 0 {
		return nil
	}
	oldIDs := make([]string, len(old))
	for k, j := range old {
		oldIDs[k] = args[j]
	}
	toks, err := c.rdb.HMGet(ctx, c.key("x", "pnv"), oldIDs...).Result()
	if err != nil {
		return c.fail("search name prefilter", err)
	}
	for k, v := range toks {
		var e *dicomjson.Element
		if str, ok := v.(string); ok {
			// The tokens of a name, as values: their tokens are the
			// name's tokens again, so the PN matcher decides the same.
			e = &dicomjson.Element{VR: "PN", Value: toAny(strings.Split(strings.TrimPrefix(str, "\x1f"), "\x1f"))}
		}
		keep[idx[old[k]]] = p.MatchStudyElement(catalog.TagPatientName, e)
	}
	return nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// decodeStudy turns a study summary hash into a StudyView; ok is false for
// a study deleted meanwhile.
func (s *source) decodeStudy(uid string, h map[string]string) (catalog.StudyView, bool, error) {
	part := h["p:"+h["repsha"]]
	if h["repsha"] == "" || part == "" {
		return catalog.StudyView{}, false, nil
	}
	attrs, err := dicomjson.Decode([]byte(part))
	if err != nil {
		return catalog.StudyView{}, false, s.c.fail("study summary "+uid, err)
	}
	var series, mods, sites []string
	for f := range h {
		switch {
		case strings.HasPrefix(f, "e:"):
			series = append(series, f[2:])
		case strings.HasPrefix(f, "m:"):
			mods = append(mods, f[2:])
		case strings.HasPrefix(f, "s:"):
			sites = append(sites, f[2:])
		}
	}
	sort.Strings(sites)
	n, _ := strconv.Atoi(h["n"])
	score, _ := strconv.ParseInt(h["score"], 10, 64)
	s.series[uid] = series
	return catalog.StudyView{UID: uid, Score: score, Attrs: catalog.StudyDataset(attrs, len(series), n, mods), Sites: sites}, true, nil
}

func (s *source) Series(ctx context.Context, studyUID string) ([]catalog.SeriesView, error) {
	c := s.c
	uids, ok := s.series[studyUID]
	if !ok {
		h, err := c.rdb.HGetAll(ctx, c.key("st", studyUID)).Result()
		if err != nil {
			return nil, c.fail("series of "+studyUID, err)
		}
		if _, _, err := s.decodeStudy(studyUID, h); err != nil {
			return nil, err
		}
		uids = s.series[studyUID]
	}
	if len(uids) == 0 {
		return nil, nil
	}
	pipe := c.rdb.Pipeline()
	cmds := make([]*goredis.MapStringStringCmd, len(uids))
	for i, u := range uids {
		cmds[i] = pipe.HGetAll(ctx, c.key("se", studyUID, u))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, c.fail("series of "+studyUID, err)
	}
	out := make([]catalog.SeriesView, 0, len(uids))
	for i, u := range uids {
		h := cmds[i].Val()
		part := h["p:"+h["repsha"]]
		if h["repsha"] == "" || part == "" {
			continue
		}
		attrs, err := dicomjson.Decode([]byte(part))
		if err != nil {
			return nil, c.fail("series summary "+u, err)
		}
		var sites []string
		for f := range h {
			if strings.HasPrefix(f, "s:") {
				sites = append(sites, f[2:])
			}
		}
		sort.Strings(sites)
		n, _ := strconv.Atoi(h["n"])
		out = append(out, catalog.SeriesView{StudyUID: studyUID, UID: u, Attrs: catalog.SeriesDataset(attrs, n), Sites: sites})
	}
	return out, nil
}

func (s *source) Records(ctx context.Context, studyUID, seriesUID string) ([]catalog.Record, error) {
	return s.c.records(ctx, s.c.key("se", studyUID, seriesUID, "i"), "z")
}

// unionRoute merges the members of sorted-set replies into one route, each
// study once, with the score of its first occurrence.
func unionRoute(used string, cmds []*goredis.ZSliceCmd) route {
	r := route{ids: []string{}, scores: []int64{}, used: used}
	seen := map[string]bool{}
	for _, cmd := range cmds {
		for _, z := range cmd.Val() {
			if id, _ := z.Member.(string); !seen[id] {
				seen[id] = true
				r.ids, r.scores = append(r.ids, id), append(r.scores, int64(z.Score))
			}
		}
	}
	return r
}

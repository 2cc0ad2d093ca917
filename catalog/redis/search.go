package redis

import (
	"context"
	"fmt"
	"math"
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
	// intersectMax is the largest intersection of the modality and site
	// sets gathered (sized like materializeMax: what is gathered is
	// scored and sorted the same way).
	intersectMax = 2000
	// intersectScan bounds the set entries the intersections may walk
	// (the smaller set of each pair): beyond it, the date walk is cheaper.
	intersectScan = 20000
	// Chunk sizes of the walk over the date index: the first chunk is the
	// page (offset+limit) or minChunk, then it doubles up to maxChunk.
	minChunk = 64
	maxChunk = 8192
)

// source is one search's view of the catalog (catalog.Source).
type source struct {
	c *Catalog
	// series caches the series UIDs of the studies read during the scan,
	// so expanding a study to its series costs one round trip.
	series map[string][]string
	// frac estimates the fraction of studies the pre-filters keep (1 when
	// unknown; groups are assumed independent), to size the first chunk of
	// a walk.
	frac float64
}

func (s *source) ScanStudies(ctx context.Context, p *catalog.Plan, fn func(catalog.StudyView) bool) error {
	cand, used, err := s.candidates(ctx, p)
	if err != nil {
		return err
	}
	if cand != nil {
		return s.walkList(ctx, p, cand, used, fn)
	}
	return s.walkDates(ctx, p, fn)
}

// candidates gathers a small candidate set from the most selective index
// the plan allows, or returns nil to walk the date index. used names the
// set group ("mod", "site") it came from, which need not be pre-filtered
// again.
func (s *source) candidates(ctx context.Context, p *catalog.Plan) ([]string, string, error) {
	c := s.c
	union := func(kind string, vals []string) ([]string, error) {
		keys := make([]string, len(vals))
		for i, v := range vals {
			keys[i] = c.key("x", kind, v)
		}
		if len(keys) == 0 {
			return []string{}, nil
		}
		ids, err := c.rdb.SUnion(ctx, keys...).Result()
		if err != nil {
			return nil, c.fail("search index "+kind, err)
		}
		return ids, nil
	}
	switch {
	case p.StudyUIDs != nil:
		return p.StudyUIDs, "", nil
	case p.PatientIDs != nil:
		ids, err := union("pid", p.PatientIDs)
		return ids, "", err
	case p.Accessions != nil:
		ids, err := union("acc", p.Accessions)
		return ids, "", err
	}
	if p.NamePrefix != "" {
		// A study has about three tokens with a given prefix (the whole
		// name, the group, the component), hence the factors of 4 and 3.
		lo, hi := "["+p.NamePrefix, "["+p.NamePrefix+"\xff"
		pipe := c.rdb.Pipeline()
		count := pipe.ZLexCount(ctx, c.key("x", "pn"), lo, hi)
		total := pipe.ZCard(ctx, c.key("x", "date"))
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, "", c.fail("search name index", err)
		}
		if count.Val() <= 3*int64(materializeMax) {
			members, err := c.rdb.ZRangeByLex(ctx, c.key("x", "pn"), &goredis.ZRangeBy{Min: lo, Max: hi}).Result()
			if err != nil {
				return nil, "", c.fail("search name index", err)
			}
			seen := map[string]bool{}
			ids := []string{}
			for _, m := range members {
				if i := strings.LastIndexByte(m, 0); i >= 0 && !seen[m[i+1:]] {
					seen[m[i+1:]] = true
					ids = append(ids, m[i+1:])
				}
			}
			return ids, "name", nil
		}
		if t := total.Val(); t > 0 {
			s.frac *= min(float64(count.Val())/3/float64(t), 1)
		}
	}
	// Small modality or site sets are worth gathering, and so is a small
	// intersection of both groups (e.g. a rare modality at two sites:
	// neither set is small, but their intersection is).
	groups := []struct {
		kind string
		vals []string
	}{{"mod", p.Modalities}, {"site", siteList(p)}}
	pipe := c.rdb.Pipeline()
	total := pipe.ZCard(ctx, c.key("x", "date"))
	var cards [2][]*goredis.IntCmd
	var keys [2][]string
	for g, grp := range groups {
		for _, v := range grp.vals {
			keys[g] = append(keys[g], c.key("x", grp.kind, v))
			cards[g] = append(cards[g], pipe.SCard(ctx, keys[g][len(keys[g])-1]))
		}
	}
	if pipe.Len() == 1 {
		return nil, "", nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, "", c.fail("search index sizes", err)
	}
	best, bestN := -1, int64(math.MaxInt64)
	for g, grp := range groups {
		if grp.vals == nil {
			continue
		}
		var n int64
		for _, cmd := range cards[g] {
			n += cmd.Val()
		}
		if t := total.Val(); t > 0 {
			s.frac *= float64(n) / float64(t) // independence assumed
		}
		if n <= int64(materializeMax) && n < bestN {
			best, bestN = g, n
		}
	}
	if best >= 0 {
		ids, err := union(groups[best].kind, groups[best].vals)
		return ids, groups[best].kind, err
	}
	// The intersection of the groups, one pair of sets at a time. Redis
	// intersects by walking the smaller set of a pair, so the cost is
	// bounded by the smaller sets; the size is estimated assuming
	// independence (a correlated pair returns more, never a wrong result).
	combos, scan, est := crossKeys(keys, cards, total.Val())
	if combos == nil || est > float64(intersectMax) || scan > int64(intersectScan) {
		return nil, "", nil
	}
	pipe = c.rdb.Pipeline()
	sets := make([]*goredis.StringSliceCmd, len(combos))
	for i, keys := range combos {
		sets[i] = pipe.SInter(ctx, keys...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, "", c.fail("search index intersection", err)
	}
	seen := make(map[string]bool, int(est)+1)
	ids := make([]string, 0, int(est)+1)
	for _, cmd := range sets {
		for _, id := range cmd.Val() {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids, "sets", nil
}

// maxCombos bounds the pairs of sets whose intersections are gathered: a
// query naming many modalities at many sites walks the date index instead.
const maxCombos = 16

// crossKeys returns the key pairs (one set of each of the two groups,
// keys with their SCARD results) whose intersections together are the
// studies in both groups, with the sum over pairs of the smaller set's
// size (what the intersections scan) and of the expected intersection
// size in a catalog of total studies. combos is nil when a group is absent
// or there are more than maxCombos pairs.
func crossKeys(keys [2][]string, cards [2][]*goredis.IntCmd, total int64) (combos [][]string, scan int64, est float64) {
	if len(keys[0]) == 0 || len(keys[1]) == 0 || len(keys[0])*len(keys[1]) > maxCombos || total <= 0 {
		return nil, 0, 0
	}
	for i, a := range keys[0] {
		for j, b := range keys[1] {
			na, nb := cards[0][i].Val(), cards[1][j].Val()
			combos = append(combos, []string{a, b})
			scan += min(na, nb)
			est += float64(na) * float64(nb) / float64(total)
		}
	}
	return combos, scan, est
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
func (s *source) walkList(ctx context.Context, p *catalog.Plan, ids []string, used string, fn func(catalog.StudyView) bool) error {
	if len(ids) == 0 {
		return nil
	}
	scores, err := s.c.rdb.ZMScore(ctx, s.c.key("x", "date"), ids...).Result()
	if err != nil {
		return s.c.fail("search scores", err)
	}
	type cand struct {
		uid   string
		score int64
	}
	cs := make([]cand, 0, len(ids))
	for i, id := range ids {
		sc := int64(scores[i])
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
		more, err := s.yield(ctx, p, batch, used, fn)
		if err != nil || !more {
			return err
		}
		start, chunk = end, min(chunk*2, maxChunk)
	}
	return nil
}

// walkDates walks the date index in canonical order.
func (s *source) walkDates(ctx context.Context, p *catalog.Plan, fn func(catalog.StudyView) bool) error {
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
	if groups != nil || p.NamePrefix != "" {
		return s.walkSets(ctx, p, lo, hi, groups, fn)
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
		ids, err := s.c.rdb.ZRevRangeByScore(ctx, s.c.key("x", "date"), &goredis.ZRangeBy{
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

// walkSets walks the date index with walkScript, which keeps only the
// studies in the modality/site set groups and with the name prefix.
func (s *source) walkSets(ctx context.Context, p *catalog.Plan, lo, hi string, groups [][]string, fn func(catalog.StudyView) bool) error {
	args := []any{lo, hi, 0, max(p.Offset+p.Limit, minChunk), walkScan, s.c.key("x", "pnv"), p.NamePrefix, len(groups)}
	for _, g := range groups {
		args = append(args, len(g))
		for _, k := range g {
			args = append(args, k)
		}
	}
	for {
		res, err := walkScript.Run(ctx, s.c.rdb, []string{s.c.key("x", "date")}, args...).Slice()
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
		// Names are small: read them for the whole batch and drop the
		// studies whose name cannot match before reading summaries.
		names, err := c.rdb.HMGet(ctx, c.key("x", "pnv"), ids...).Result()
		if err != nil {
			return false, c.fail("search name prefilter", err)
		}
		for i, v := range names {
			var e *dicomjson.Element
			if str, ok := v.(string); ok {
				// The tokens of a name, as values: their tokens are the
				// name's tokens again, so the PN matcher decides the same.
				e = &dicomjson.Element{VR: "PN", Value: toAny(strings.Split(strings.TrimPrefix(str, "\x1f"), "\x1f"))}
			}
			keep[i] = keep[i] && p.MatchStudyElement(catalog.TagPatientName, e)
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

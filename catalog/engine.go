package catalog

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/huren-health/huren/dicomjson"
)

// Paging limits.
const (
	// DefaultLimit is the number of results when Query.Limit is 0.
	DefaultLimit = 1000
	// MaxLimit caps Query.Limit; larger values are reduced to it.
	MaxLimit = 10000
)

// StudyView is one study as a backend hands it to Execute.
type StudyView struct {
	UID   string
	Score int64 // StudyScore of the representative
	// Attrs is StudyDataset(representative's StudyPart, aggregates).
	Attrs dicomjson.Dataset
	// Sites that sent at least one instance of the study.
	Sites []string
}

// SeriesView is one series as a backend hands it to Execute.
type SeriesView struct {
	StudyUID, UID string
	Attrs         dicomjson.Dataset // SeriesDataset(representative's SeriesPart, count)
	Sites         []string
}

// Source is what a backend gives the shared query engine. Execute calls it
// from one goroutine.
type Source interface {
	// ScanStudies calls fn for candidate studies of p in the canonical order
	// (StudyBefore) until fn returns false or the candidates are exhausted.
	// Candidates must include every study that matches p; they may include
	// more (Execute checks every key), so the index hints of Plan are
	// optional optimisations.
	ScanStudies(ctx context.Context, p *Plan, fn func(StudyView) bool) error
	// Series returns the series of a study, in any order (none if absent).
	Series(ctx context.Context, studyUID string) ([]SeriesView, error)
	// Records returns the records of a series, in any order.
	Records(ctx context.Context, studyUID, seriesUID string) ([]Record, error)
}

// Plan is a validated, compiled Query. Its exported fields are index hints
// for backends: each describes a superset of the studies that can match.
type Plan struct {
	Level               Level
	StudyUID, SeriesUID string
	Limit, Offset       int

	// StudyUIDs, when non-nil, lists the only studies that can match (from
	// the URL scope and/or a StudyInstanceUID key). Empty non-nil: none.
	StudyUIDs []string
	// PatientIDs / Accessions, when non-nil, are exact values one of which
	// the study's PatientID / AccessionNumber must equal.
	PatientIDs []string
	Accessions []string
	// Modalities, when non-nil, are exact values one of which must be in
	// the study's ModalitiesInStudy.
	Modalities []string
	// DateRange: the study's StudyScore must lie in [ScoreMin, ScoreMax].
	DateRange          bool
	ScoreMin, ScoreMax int64
	// NamePrefix, when non-empty, must be a prefix of one of the study's
	// PNTokens(PatientName).
	NamePrefix string
	// Sites, when non-nil, are the sites one of which must have sent an
	// instance of the study (and, at lower levels, of the series/instance).
	Sites map[string]bool

	// Skipped is set by a backend's ScanStudies when, for a plan whose
	// DateIndexExact is true, it skipped that many leading candidates
	// itself (they are all matches); Execute then skips only the rest of
	// Offset. It must be set before the first call of fn.
	Skipped int

	matchers   [4][]*matcher // by Level: keys evaluated on that level's dataset
	include    [4][]string   // by Level: tags to return from that level's dataset
	includeAll bool
}

// Validate checks q (matching values, levels of the keys, limit/offset)
// without running it.
func (q Query) Validate() error {
	_, err := Compile(q)
	return err
}

// Compile validates q and prepares it for Execute. Errors wrap
// ErrInvalidQuery.
func Compile(q Query) (*Plan, error) {
	p := &Plan{Level: q.Level, StudyUID: q.StudyUID, SeriesUID: q.SeriesUID, Offset: q.Offset, Limit: q.Limit}
	if q.Level < StudyLevel || q.Level > InstanceLevel {
		return nil, invalidf("unknown query level %d", q.Level)
	}
	if q.Limit < 0 || q.Offset < 0 {
		return nil, invalidf("negative limit or offset")
	}
	if p.Limit == 0 {
		p.Limit = DefaultLimit
	}
	p.Limit = min(p.Limit, MaxLimit)
	if q.SeriesUID != "" && q.StudyUID == "" {
		return nil, invalidf("series scope without study scope")
	}
	if q.SeriesUID != "" && q.Level != InstanceLevel || q.StudyUID != "" && q.Level == StudyLevel {
		return nil, invalidf("scope deeper than the query level")
	}
	for _, u := range []string{q.StudyUID, q.SeriesUID} {
		if u != "" && !validUID(u) {
			return nil, invalidf("%q is not a UID", u)
		}
	}
	if q.StudyUID != "" {
		p.StudyUIDs = []string{q.StudyUID}
	}
	if q.Sites != nil {
		p.Sites = make(map[string]bool, len(q.Sites))
		for _, s := range q.Sites {
			p.Sites[s] = true
		}
	}
	for _, mt := range q.Matches {
		tag, ok := normTag(mt.Tag)
		if !ok {
			return nil, invalidf("unknown attribute %q", mt.Tag)
		}
		if tag == TagModality && q.Level == StudyLevel {
			tag = TagModalitiesInStudy // what clients mean by Modality on /studies
		}
		lvl, err := evalLevel(tag, q.Level)
		if err != nil {
			return nil, err
		}
		m, err := compileMatch(tag, mt.Value, q.FuzzyMatching)
		if err != nil {
			return nil, err
		}
		p.include[lvl] = append(p.include[lvl], tag)
		if m.universal {
			continue
		}
		p.matchers[lvl] = append(p.matchers[lvl], m)
		if lvl == StudyLevel {
			p.hint(m)
		}
	}
	for _, f := range q.IncludeFields {
		if strings.EqualFold(f, "all") {
			p.includeAll = true
			continue
		}
		tag, ok := normTag(f)
		if !ok {
			return nil, invalidf("unknown includefield %q", f)
		}
		if lvl, err := evalLevel(tag, q.Level); err == nil {
			p.include[lvl] = append(p.include[lvl], tag)
		} // attributes below the query level are not available: ignored
	}
	p.includeAll = p.includeAll || q.IncludeAll
	return p, nil
}

// evalLevel is the level whose dataset a tag is matched against and
// returned from: the query level if the tag lives there, else the nearest
// level above it.
func evalLevel(tag string, q Level) (Level, error) {
	mask := levelOf(tag)
	for l := q; l >= StudyLevel; l-- {
		if mask&(1<<(l-1)) != 0 {
			return l, nil
		}
	}
	return 0, invalidf("attribute %s (%s) is not available at the %s level", tag, KeywordForTag(tag), q)
}

func (l Level) String() string {
	switch l {
	case StudyLevel:
		return "study"
	case SeriesLevel:
		return "series"
	case InstanceLevel:
		return "instance"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// hint derives index hints from a study-level key.
func (p *Plan) hint(m *matcher) {
	exact := func() []string {
		for _, a := range m.alts {
			if hasWildcard(a) {
				return nil
			}
		}
		return append([]string(nil), m.alts...)
	}
	switch m.tag {
	case TagStudyInstanceUID:
		if p.StudyUIDs == nil {
			p.StudyUIDs = append([]string(nil), m.alts...)
		} else {
			p.StudyUIDs = intersect(p.StudyUIDs, m.alts)
		}
	case TagPatientID:
		if ids := exact(); ids != nil && p.PatientIDs == nil {
			p.PatientIDs = ids
		}
	case TagAccessionNumber:
		if ids := exact(); ids != nil && p.Accessions == nil {
			p.Accessions = ids
		}
	case TagModalitiesInStudy:
		if ms := exact(); ms != nil && p.Modalities == nil {
			p.Modalities = ms
		}
	case TagStudyDate:
		lo, hi := int64(1), int64(math.MaxInt64)
		if m.lo != "" {
			lo = dateScore(m.lo, false)
		}
		if m.hi != "" {
			hi = dateScore(m.hi, true)
		}
		if p.DateRange {
			lo, hi = max(lo, p.ScoreMin), min(hi, p.ScoreMax)
		}
		p.DateRange, p.ScoreMin, p.ScoreMax = true, lo, hi
	case TagPatientName:
		if len(m.alts) == 1 && p.NamePrefix == "" {
			p.NamePrefix = literalPrefix(m.alts[0])
		}
	}
}

func intersect(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// Visible reports whether an item sent by sites is inside the plan's site
// scope.
func (p *Plan) Visible(sites []string) bool {
	if p.Sites == nil {
		return true
	}
	for _, s := range sites {
		if p.Sites[s] {
			return true
		}
	}
	return false
}

func (p *Plan) matches(l Level, d dicomjson.Dataset) bool {
	for _, m := range p.matchers[l] {
		if !m.match(d[m.tag]) {
			return false
		}
	}
	return true
}

// HasStudyKey reports whether the plan has a non-universal study-level key
// on tag.
func (p *Plan) HasStudyKey(tag string) bool {
	for _, m := range p.matchers[StudyLevel] {
		if m.tag == tag {
			return true
		}
	}
	return false
}

// MatchStudyElement reports whether e passes the plan's study-level keys
// on tag (true when there are none): a backend may read one attribute of
// many studies cheaply and drop those that cannot match before reading
// their summaries.
func (p *Plan) MatchStudyElement(tag string, e *dicomjson.Element) bool {
	for _, m := range p.matchers[StudyLevel] {
		if m.tag == tag && !m.match(e) {
			return false
		}
	}
	return true
}

// DateIndexExact reports whether every study whose StudyScore lies in the
// hinted date range (or every study, without DateRange) matches the plan
// and is a result: a study-level query with no site scope and no key but
// StudyDate. A backend walking its date index may then skip Offset entries
// without reading them (see Skipped).
func (p *Plan) DateIndexExact() bool {
	if p.Level != StudyLevel || p.Sites != nil || p.StudyUIDs != nil {
		return false
	}
	for _, m := range p.matchers[StudyLevel] {
		if m.tag != TagStudyDate {
			return false
		}
	}
	return true
}

// MatchesStudy reports whether a study passes the site scope and every
// study-level key (backends may use it to filter early).
func (p *Plan) MatchesStudy(s StudyView) bool {
	return p.Visible(s.Sites) && p.matches(StudyLevel, s.Attrs)
}

// Execute runs a compiled plan against a backend: it walks the studies in
// canonical order, expands series and instances as the level requires,
// checks every key and the site scope, and returns the page
// [Offset, Offset+Limit) of the results, projected to the attributes the
// level requires plus the include fields and the matching keys.
func Execute(ctx context.Context, p *Plan, src Source) ([]dicomjson.Dataset, error) {
	out := []dicomjson.Dataset{}
	skip := -1
	var ferr error
	emit := func(build func() dicomjson.Dataset) bool {
		if skip < 0 {
			skip = max(p.Offset-p.Skipped, 0)
		}
		if skip > 0 {
			skip--
			return true
		}
		out = append(out, build())
		return len(out) < p.Limit
	}
	err := src.ScanStudies(ctx, p, func(st StudyView) bool {
		if err := ctx.Err(); err != nil {
			ferr = err
			return false
		}
		if !p.MatchesStudy(st) || p.StudyUIDs != nil && !contains(p.StudyUIDs, st.UID) {
			return true
		}
		if p.Level == StudyLevel {
			return emit(func() dicomjson.Dataset { return p.project(st.Attrs, nil, nil) })
		}
		series, err := src.Series(ctx, st.UID)
		if err != nil {
			ferr = err
			return false
		}
		SortSeries(series)
		for _, se := range series {
			if p.SeriesUID != "" && se.UID != p.SeriesUID || !p.Visible(se.Sites) || !p.matches(SeriesLevel, se.Attrs) {
				continue
			}
			if p.Level == SeriesLevel {
				if !emit(func() dicomjson.Dataset { return p.project(st.Attrs, se.Attrs, nil) }) {
					return false
				}
				continue
			}
			recs, err := src.Records(ctx, st.UID, se.UID)
			if err != nil {
				ferr = err
				return false
			}
			SortRecords(recs)
			for _, r := range recs {
				if p.Sites != nil && !p.Sites[r.Site] {
					continue
				}
				inst := instanceDataset(r)
				if !p.matches(InstanceLevel, inst) {
					continue
				}
				if !emit(func() dicomjson.Dataset { return p.project(st.Attrs, se.Attrs, inst) }) {
					return false
				}
			}
		}
		return true
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// project builds one result. Every level's dataset contributes its
// required attributes when that level is not fixed by the URL scope, the
// include fields and matching keys evaluated on it, or everything with
// includefield=all. Elements are copied: results never alias stored data.
func (p *Plan) project(study, series, inst dicomjson.Dataset) dicomjson.Dataset {
	out := dicomjson.Dataset{}
	put := func(d dicomjson.Dataset, tags []string) {
		for _, t := range tags {
			if e := d[t]; e != nil {
				out[t] = copyElement(e)
			}
		}
	}
	all := func(d dicomjson.Dataset) {
		for t, e := range d {
			if e != nil {
				out[t] = copyElement(e)
			}
		}
	}
	if inst != nil {
		if p.includeAll {
			all(inst)
		}
		put(inst, requiredInstance)
		put(inst, p.include[InstanceLevel])
	}
	if series != nil {
		if p.includeAll {
			all(series)
		}
		if p.SeriesUID == "" {
			put(series, requiredSeries)
		}
		put(series, p.include[SeriesLevel])
	}
	if p.includeAll {
		all(study)
	}
	if p.StudyUID == "" {
		put(study, requiredStudy)
	}
	put(study, p.include[StudyLevel])
	put(study, []string{TagStudyInstanceUID})
	return out
}

func copyElement(e *dicomjson.Element) *dicomjson.Element {
	c := *e
	if e.Value != nil {
		c.Value = append([]any(nil), e.Value...)
	}
	return &c
}

// SortStudies sorts views in the canonical study order.
func SortStudies(v []StudyView) {
	sort.Slice(v, func(i, j int) bool { return StudyBefore(v[i].Score, v[i].UID, v[j].Score, v[j].UID) })
}

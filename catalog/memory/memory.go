// Package memory is the in-process catalog: the embedded default of
// `huren serve` and the reference the Redis backend is compared with.
//
// Every study keeps a precomputed summary (representative's study part plus
// aggregates), the studies are kept in a slice in canonical order, and
// PatientID / AccessionNumber have exact-value indexes, so a QIDO study
// search is a binary search on the date range or an index lookup followed
// by a scan of precomputed summaries — fine for 100,000 studies. Nothing
// is persisted: after a restart `huren reindex` (or ingest) fills it again.
//
// Concurrency: a Catalog is safe for concurrent use; writers take an
// exclusive lock, searches a shared one for their whole run, so every
// answer is a consistent snapshot.
package memory

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomjson"
)

var _ catalog.Catalog = (*Catalog)(nil)

// Catalog is an in-memory catalog.Catalog.
type Catalog struct {
	log *slog.Logger

	mu      sync.RWMutex
	inst    map[string]*entry
	studies map[string]*study
	order   []*study // canonical order (catalog.StudyBefore)
	byPID   map[string]map[string]bool
	byAcc   map[string]map[string]bool
}

type entry struct {
	rec  catalog.Record
	ts   int64
	mods []string
}

type study struct {
	uid      string
	insts    map[string]*entry
	series   map[string]*series
	score    int64
	pids     []string // indexed PatientID / AccessionNumber values
	accs     []string
	names    []string // PNTokens of the PatientName values, for NamePrefix
	view     catalog.StudyView
	inOrder  bool
	modCount map[string]int
	siteCnt  map[string]int
	// rep caches representative(insts); nil when it must be recomputed.
	rep *entry
}

type series struct {
	uid     string
	insts   map[string]*entry
	siteCnt map[string]int
	view    catalog.SeriesView
	// last is the entry put most recently (nil once it is removed): new
	// instances share its equal attribute elements (see share).
	last *entry
	// rep caches representative(insts); nil when it must be recomputed.
	rep *entry
}

// New returns an empty catalog. logger may be nil (silent).
func New(logger *slog.Logger) *Catalog {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Catalog{log: logger.With("component", "catalog.memory")}
	c.reset()
	return c
}

func (c *Catalog) reset() {
	c.inst = map[string]*entry{}
	c.studies = map[string]*study{}
	c.order = nil
	c.byPID = map[string]map[string]bool{}
	c.byAcc = map[string]map[string]bool{}
}

// Put implements catalog.Catalog.
func (c *Catalog) Put(ctx context.Context, rec catalog.Record) error {
	rec, err := catalog.Normalize(rec)
	if err != nil {
		return err
	}
	// The study and series parts of a record are only needed for the
	// representative instance, so refresh computes them for that one
	// instead of every entry keeping two more maps (a quarter of an
	// instance's memory).
	e := &entry{rec: rec, ts: catalog.ReceivedScore(rec.ReceivedAt), mods: catalog.Modalities(rec)}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.remove(rec.InstanceUID)
	st := c.studies[rec.StudyUID]
	if st == nil {
		st = &study{uid: rec.StudyUID, insts: map[string]*entry{}, series: map[string]*series{},
			modCount: map[string]int{}, siteCnt: map[string]int{}}
		c.studies[rec.StudyUID] = st
	}
	se := st.series[rec.SeriesUID]
	if se == nil {
		se = &series{uid: rec.SeriesUID, insts: map[string]*entry{}, siteCnt: map[string]int{}}
		st.series[rec.SeriesUID] = se
	}
	if se.last != nil {
		share(&e.rec, &se.last.rec)
	}
	se.last = e
	// Keep the cached representatives current instead of scanning every
	// instance of the study on each put (quadratic in a 4000-slice study).
	if st.rep != nil && newer(e, st.rep) {
		st.rep = e
	}
	if se.rep != nil && newer(e, se.rep) {
		se.rep = e
	}
	c.inst[rec.InstanceUID] = e
	st.insts[rec.InstanceUID] = e
	se.insts[rec.InstanceUID] = e
	for _, m := range e.mods {
		st.modCount[m]++
	}
	st.siteCnt[rec.Site]++
	se.siteCnt[rec.Site]++
	c.refresh(st, se)
	return nil
}

// remove drops an instance and refreshes what it belonged to. Caller holds mu.
func (c *Catalog) remove(uid string) {
	e := c.inst[uid]
	if e == nil {
		return
	}
	delete(c.inst, uid)
	st := c.studies[e.rec.StudyUID]
	se := st.series[e.rec.SeriesUID]
	delete(st.insts, uid)
	delete(se.insts, uid)
	if se.last == e {
		se.last = nil
	}
	if st.rep == e {
		st.rep = nil
	}
	if se.rep == e {
		se.rep = nil
	}
	for _, m := range e.mods {
		if st.modCount[m]--; st.modCount[m] == 0 {
			delete(st.modCount, m)
		}
	}
	if st.siteCnt[e.rec.Site]--; st.siteCnt[e.rec.Site] == 0 {
		delete(st.siteCnt, e.rec.Site)
	}
	if se.siteCnt[e.rec.Site]--; se.siteCnt[e.rec.Site] == 0 {
		delete(se.siteCnt, e.rec.Site)
	}
	if len(se.insts) == 0 {
		delete(st.series, se.uid)
	}
	c.refresh(st, se)
}

// representative is the entry with the greatest (ts, InstanceUID).
func representative(m map[string]*entry) *entry {
	var rep *entry
	for _, e := range m {
		if rep == nil || newer(e, rep) {
			rep = e
		}
	}
	return rep
}

// newer orders entries by (ts, InstanceUID).
func newer(a, b *entry) bool {
	return a.ts > b.ts || a.ts == b.ts && a.rec.InstanceUID > b.rec.InstanceUID
}

// refresh recomputes a study's summary, the summary of its series se,
// indexes and the study's position in the order. Caller holds mu.
func (c *Catalog) refresh(st *study, se *series) {
	c.unorder(st)
	unindex(c.byPID, st.pids, st.uid)
	unindex(c.byAcc, st.accs, st.uid)
	if len(st.insts) == 0 {
		delete(c.studies, st.uid)
		return
	}
	if st.rep == nil {
		st.rep = representative(st.insts)
	}
	rep := st.rep
	mods := make([]string, 0, len(st.modCount))
	for m := range st.modCount {
		mods = append(mods, m)
	}
	attrs := catalog.StudyDataset(catalog.StudyPart(rep.rec), len(st.series), len(st.insts), mods)
	st.score = catalog.StudyScore(attrs)
	st.view = catalog.StudyView{UID: st.uid, Score: st.score, Attrs: attrs, Sites: keys(st.siteCnt)}
	st.names = st.names[:0]
	for _, v := range attrs.Strings(catalog.TagPatientName) {
		st.names = append(st.names, catalog.PNTokens(v)...)
	}
	st.pids = catalog.IndexValues(attrs, catalog.TagPatientID)
	st.accs = catalog.IndexValues(attrs, catalog.TagAccessionNumber)
	index(c.byPID, st.pids, st.uid)
	index(c.byAcc, st.accs, st.uid)
	if len(se.insts) > 0 {
		if se.rep == nil {
			se.rep = representative(se.insts)
		}
		srep := se.rep
		se.view = catalog.SeriesView{StudyUID: st.uid, UID: se.uid,
			Attrs: catalog.SeriesDataset(catalog.SeriesPart(srep.rec), len(se.insts)), Sites: keys(se.siteCnt)}
	}
	i := sort.Search(len(c.order), func(i int) bool {
		return !catalog.StudyBefore(c.order[i].score, c.order[i].uid, st.score, st.uid)
	})
	c.order = append(c.order, nil)
	copy(c.order[i+1:], c.order[i:])
	c.order[i] = st
	st.inOrder = true
}

func (c *Catalog) unorder(st *study) {
	if !st.inOrder {
		return
	}
	i := sort.Search(len(c.order), func(i int) bool {
		return !catalog.StudyBefore(c.order[i].score, c.order[i].uid, st.score, st.uid)
	})
	if i < len(c.order) && c.order[i] == st {
		c.order = append(c.order[:i], c.order[i+1:]...)
	}
	st.inOrder = false
}

func index(ix map[string]map[string]bool, vals []string, uid string) {
	for _, v := range vals {
		if ix[v] == nil {
			ix[v] = map[string]bool{}
		}
		ix[v][uid] = true
	}
}

func unindex(ix map[string]map[string]bool, vals []string, uid string) {
	for _, v := range vals {
		delete(ix[v], uid)
		if len(ix[v]) == 0 {
			delete(ix, v)
		}
	}
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Instance implements catalog.Catalog.
func (c *Catalog) Instance(ctx context.Context, uid string) (catalog.Record, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e := c.inst[uid]
	if e == nil {
		return catalog.Record{}, catalog.ErrNotFound
	}
	return catalog.CopyRecord(e.rec), nil
}

// Instances implements catalog.Catalog.
func (c *Catalog) Instances(ctx context.Context, studyUID, seriesUID string) ([]catalog.Record, error) {
	return c.list(studyUID, seriesUID, catalog.CopyRecord)
}

// InstanceKeys implements catalog.KeyLister: records keep a small shared
// subset of their attributes instead of a deep copy of all of them.
func (c *Catalog) InstanceKeys(ctx context.Context, studyUID, seriesUID string) ([]catalog.Record, error) {
	return c.list(studyUID, seriesUID, func(r catalog.Record) catalog.Record {
		r.Attrs = catalog.KeyAttrs(r.Attrs)
		return r
	})
}

func (c *Catalog) list(studyUID, seriesUID string, conv func(catalog.Record) catalog.Record) ([]catalog.Record, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st := c.studies[studyUID]
	if st == nil {
		return nil, catalog.ErrNotFound
	}
	src := st.insts
	if seriesUID != "" {
		se := st.series[seriesUID]
		if se == nil {
			return nil, catalog.ErrNotFound
		}
		src = se.insts
	}
	out := make([]catalog.Record, 0, len(src))
	for _, e := range src {
		out = append(out, conv(e.rec))
	}
	catalog.SortRecords(out)
	return out, nil
}

// Search implements catalog.Catalog.
func (c *Catalog) Search(ctx context.Context, q catalog.Query) ([]dicomjson.Dataset, error) {
	p, err := catalog.Compile(q)
	if err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return catalog.Execute(ctx, p, source{c})
}

// Delete implements catalog.Catalog.
func (c *Catalog) Delete(ctx context.Context, uid string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.remove(uid)
	return nil
}

// Reset implements catalog.Catalog.
func (c *Catalog) Reset(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset()
	return nil
}

// Close implements catalog.Catalog; the catalog stays usable.
func (c *Catalog) Close() error { return nil }

// source runs a search under the caller's read lock.
type source struct{ c *Catalog }

func (s source) ScanStudies(ctx context.Context, p *catalog.Plan, fn func(catalog.StudyView) bool) error {
	c := s.c
	if p.NamePrefix != "" {
		// Cheap superset test on precomputed tokens before the matcher.
		inner := fn
		fn = func(v catalog.StudyView) bool {
			for _, t := range c.studies[v.UID].names {
				if strings.HasPrefix(t, p.NamePrefix) {
					return inner(v)
				}
			}
			return true
		}
	}
	var cand map[string]bool
	switch {
	case p.StudyUIDs != nil:
		cand = map[string]bool{}
		for _, u := range p.StudyUIDs {
			cand[u] = true
		}
	case p.PatientIDs != nil:
		cand = union(c.byPID, p.PatientIDs)
	case p.Accessions != nil:
		cand = union(c.byAcc, p.Accessions)
	}
	if cand != nil {
		views := make([]catalog.StudyView, 0, len(cand))
		for u := range cand {
			if st := c.studies[u]; st != nil {
				views = append(views, st.view)
			}
		}
		catalog.SortStudies(views)
		for _, v := range views {
			if !fn(v) {
				return nil
			}
		}
		return nil
	}
	lo, hi := 0, len(c.order)
	if p.DateRange {
		// order is by score descending: [first score <= max, first score < min)
		lo = sort.Search(len(c.order), func(i int) bool { return c.order[i].score <= p.ScoreMax })
		hi = sort.Search(len(c.order), func(i int) bool { return c.order[i].score < p.ScoreMin })
	}
	for i := lo; i < hi; i++ {
		if !fn(c.order[i].view) {
			return nil
		}
	}
	return nil
}

func union(ix map[string]map[string]bool, vals []string) map[string]bool {
	out := map[string]bool{}
	for _, v := range vals {
		for u := range ix[v] {
			out[u] = true
		}
	}
	return out
}

func (s source) Series(ctx context.Context, studyUID string) ([]catalog.SeriesView, error) {
	st := s.c.studies[studyUID]
	if st == nil {
		return nil, nil
	}
	out := make([]catalog.SeriesView, 0, len(st.series))
	for _, se := range st.series {
		out = append(out, se.view)
	}
	return out, nil
}

func (s source) Records(ctx context.Context, studyUID, seriesUID string) ([]catalog.Record, error) {
	st := s.c.studies[studyUID]
	if st == nil || st.series[seriesUID] == nil {
		return nil, nil
	}
	se := st.series[seriesUID]
	out := make([]catalog.Record, 0, len(se.insts))
	for _, e := range se.insts {
		out = append(out, e.rec)
	}
	return out, nil
}

// share makes rec use sib's attribute elements (and UID strings) where they
// are equal. Instances of one series repeat most of their attributes
// (patient, study, series, equipment), and each decoded element costs
// ~200 bytes: sharing them roughly halves what an instance costs here.
// Elements are never modified in place once stored (Instance and Instances
// hand out deep copies), so sharing is safe.
func share(rec, sib *catalog.Record) {
	if rec.StudyUID == sib.StudyUID {
		rec.StudyUID = sib.StudyUID
	}
	if rec.SeriesUID == sib.SeriesUID {
		rec.SeriesUID = sib.SeriesUID
	}
	if rec.Site == sib.Site {
		rec.Site = sib.Site
	}
	for tag, el := range rec.Attrs {
		if o := sib.Attrs[tag]; o != nil && o != el && sameElement(o, el) {
			rec.Attrs[tag] = o
		}
	}
}

func sameElement(a, b *dicomjson.Element) bool {
	if a.VR != b.VR || a.BulkDataURI != b.BulkDataURI || a.InlineBinary != b.InlineBinary || len(a.Value) != len(b.Value) {
		return false
	}
	for i := range a.Value {
		if !sameValue(a.Value[i], b.Value[i]) {
			return false
		}
	}
	return true
}

// sameValue compares the value kinds a decoded DICOM JSON element holds
// (strings, numbers, person names and sequence items as maps, nested
// arrays); anything else is reported unequal, i.e. not shared.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case json.Number:
		y, ok := b.(json.Number)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

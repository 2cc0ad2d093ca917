package worklist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomjson"
)

// DefaultQuiet is how long a study must receive no instance before its task
// is created.
const DefaultQuiet = 30 * time.Second

// Stored is one "instance stored" notification.
type Stored struct {
	StudyUID, SeriesUID, InstanceUID string
	Site                             string
	Modality, BodyPart, ExamType     string
	PatientID, PatientName           string
	// Priority the sender requested (Routine unless known).
	Priority Priority
}

// DICOM tags read by StoredFromRecord.
const (
	tagModality         = "00080060"
	tagBodyPart         = "00180015"
	tagStudyDescription = "00081030"
	tagPatientID        = "00100020"
	tagPatientName      = "00100010"
	tagRequestedPrio    = "00401003" // Requested Procedure Priority: STAT, HIGH, ROUTINE, MEDIUM, LOW
)

// StoredFromRecord extracts a Stored from a catalog record.
func StoredFromRecord(rec catalog.Record) Stored {
	s := Stored{StudyUID: rec.StudyUID, SeriesUID: rec.SeriesUID, InstanceUID: rec.InstanceUID, Site: rec.Site}
	a := rec.Attrs
	if a == nil {
		return s
	}
	s.Modality, s.BodyPart, s.ExamType = a.String(tagModality), a.String(tagBodyPart), a.String(tagStudyDescription)
	s.PatientID = a.String(tagPatientID)
	if e := a[tagPatientName]; e != nil && len(e.Value) > 0 {
		s.PatientName = dicomjson.ValueString(e.Value[0])
	}
	switch strings.ToUpper(strings.TrimSpace(a.String(tagRequestedPrio))) {
	case "STAT":
		s.Priority = STAT
	case "HIGH":
		s.Priority = Urgent
	}
	return s
}

// ECG is an ECG to read, created as a task at once.
type ECG struct {
	ID                     string
	Site                   string
	PatientID, PatientName string
	ExamType               string
	// Priority: Critical for a machine-flagged STEMI etc. — it jumps the
	// queue.
	Priority Priority
	// Actor is who asked for the task, named in its event ("" = System).
	Actor string
}

// TrackerConfig configures a Tracker.
type TrackerConfig struct {
	Queue  Queue
	Router *Router
	// Quiet is the quiet period; 0 means DefaultQuiet.
	Quiet time.Duration
	// Catalog, when set, supplies exact series/instance counts across
	// replicas at task creation; otherwise counts are what this replica saw.
	Catalog catalog.Catalog
	Logger  *slog.Logger
	// Now is the clock for routing (time-of-day rules) and due times.
	Now func() time.Time
}

// Tracker turns stored instances into reading tasks: a study's task is
// created (or updated, or flagged if already reported) when no instance has
// arrived for the quiet period, or at once on StudyComplete. It is safe for
// concurrent use. Studies in their quiet period live only in this replica's
// memory: if the process dies before the period ends (kill -9, power loss),
// nothing else remembers them. Recover, run at every start and after a
// reindex, closes that gap: it gives every study of the catalog that has no
// task one, after the rest of its quiet period. With several replicas each
// one upserts what it saw; Upsert is idempotent, so a study split across
// replicas still has one task, and Recover creates only where no task
// exists (NewTask.IfAbsent), so replicas recovering at once never create
// two or touch a task another one made.
type Tracker struct {
	cfg   TrackerConfig
	quiet time.Duration
	log   *slog.Logger
	now   func() time.Time

	mu      sync.Mutex
	pending map[string]*pendingStudy
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type pendingStudy struct {
	s         Stored
	series    map[string]struct{}
	instances map[string]struct{}
	timer     *time.Timer
	flushing  bool
	// recovered: queued by Recover, not by an arrival seen here; its
	// upsert creates the task only if none exists.
	recovered bool
}

// NewTracker returns a tracker; Close stops its timers.
func NewTracker(cfg TrackerConfig) *Tracker {
	t := &Tracker{cfg: cfg, quiet: cfg.Quiet, log: cfg.Logger, now: cfg.Now, pending: map[string]*pendingStudy{}}
	if t.quiet <= 0 {
		t.quiet = DefaultQuiet
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.now == nil {
		t.now = time.Now
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t
}

// OnStored is the ingest hook: call it after an instance is stored and
// indexed. It never blocks on the queue.
func (t *Tracker) OnStored(_ context.Context, rec catalog.Record) error {
	return t.Observe(StoredFromRecord(rec))
}

// Observe records one stored instance and (re)starts the study's quiet
// period.
func (t *Tracker) Observe(s Stored) error {
	if s.StudyUID == "" {
		return fmt.Errorf("worklist tracker: instance without study UID: %w", ErrInvalid)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		return fmt.Errorf("worklist tracker: closed: %w", ErrUnavailable)
	}
	p := t.pending[s.StudyUID]
	if p == nil {
		p = &pendingStudy{s: s, series: map[string]struct{}{}, instances: map[string]struct{}{}}
		t.pending[s.StudyUID] = p
		uid := s.StudyUID
		p.timer = time.AfterFunc(t.quiet, func() { t.flushAsync(uid) })
	} else {
		mergeStored(&p.s, s)
		p.recovered = false // a real arrival: update an existing task as usual
		if !p.flushing {
			p.timer.Reset(t.quiet)
		}
	}
	if s.SeriesUID != "" {
		p.series[s.SeriesUID] = struct{}{}
	}
	if s.InstanceUID != "" {
		p.instances[s.InstanceUID] = struct{}{}
	}
	return nil
}

// mergeStored fills empty fields of dst from s and keeps the highest
// requested priority; a study's modalities are joined ("CT\SR").
func mergeStored(dst *Stored, s Stored) {
	fill := func(d *string, v string) {
		if *d == "" {
			*d = v
		}
	}
	fill(&dst.Site, s.Site)
	fill(&dst.BodyPart, s.BodyPart)
	fill(&dst.ExamType, s.ExamType)
	fill(&dst.PatientID, s.PatientID)
	fill(&dst.PatientName, s.PatientName)
	if s.Modality != "" && !strings.Contains(`\`+dst.Modality+`\`, `\`+s.Modality+`\`) {
		if dst.Modality == "" {
			dst.Modality = s.Modality
		} else {
			dst.Modality += `\` + s.Modality
		}
	}
	dst.Priority = max(dst.Priority, s.Priority)
}

func (t *Tracker) flushAsync(uid string) {
	t.mu.Lock()
	if t.ctx.Err() != nil {
		t.mu.Unlock()
		return
	}
	t.wg.Add(1)
	t.mu.Unlock()
	defer t.wg.Done()
	if _, err := t.flush(t.ctx, uid); err != nil && !errors.Is(err, ErrNotFound) && t.ctx.Err() == nil {
		t.log.Error("worklist tracker: creating task failed; retrying in 5s", "study", uid, "err", err)
		t.mu.Lock()
		if p := t.pending[uid]; p != nil {
			p.flushing = false
			p.timer.Reset(5 * time.Second)
		}
		t.mu.Unlock()
	}
}

// flush upserts the pending study's task and forgets the study.
func (t *Tracker) flush(ctx context.Context, uid string) (Task, error) {
	t.mu.Lock()
	p := t.pending[uid]
	if p == nil || p.flushing {
		t.mu.Unlock()
		return Task{}, fmt.Errorf("worklist tracker: study %s not pending: %w", uid, ErrNotFound)
	}
	p.flushing = true
	p.timer.Stop()
	s, nSeries, nInst, ifAbsent := p.s, len(p.series), len(p.instances), p.recovered
	t.mu.Unlock()

	if t.cfg.Catalog != nil {
		if recs, err := catalog.InstanceKeys(ctx, t.cfg.Catalog, uid, ""); err == nil {
			series := map[string]struct{}{}
			for _, r := range recs {
				series[r.SeriesUID] = struct{}{}
			}
			nSeries, nInst = len(series), len(recs)
		}
	}
	doc := Doc{Kind: KindStudy, Ref: uid, Site: s.Site, Modality: s.Modality, BodyPart: s.BodyPart, ExamType: s.ExamType,
		PatientID: s.PatientID, PatientName: s.PatientName, Series: nSeries, Instances: nInst, RequestedPriority: s.Priority}
	task, err := t.upsert(ctx, doc, "", ifAbsent)
	if err != nil {
		return Task{}, err
	}
	t.mu.Lock()
	// Instances that arrived during the upsert keep the study pending.
	if cur := t.pending[uid]; cur == p {
		if len(p.instances) == nInst || t.cfg.Catalog != nil && len(p.instances) <= nInst {
			delete(t.pending, uid)
		} else {
			p.flushing = false
			p.timer.Reset(t.quiet)
		}
	}
	t.mu.Unlock()
	return task, nil
}

func (t *Tracker) upsert(ctx context.Context, doc Doc, actor string, ifAbsent bool) (Task, error) {
	now := t.now()
	d := t.cfg.Router.Route(doc, now)
	task, created, err := t.cfg.Queue.Upsert(ctx, NewTask{Doc: doc, Group: d.Group, Priority: d.Priority, Due: now.Add(d.SLA), Actor: actor, IfAbsent: ifAbsent})
	if err != nil {
		return Task{}, err
	}
	t.log.Info("worklist task upserted", "task", task.ID, "ref", doc.Ref, "created", created, "group", d.Group, "priority", d.Priority, "rule", d.Rule)
	return task, nil
}

// StudyComplete creates (or updates) the study's task now, without waiting
// for the quiet period. ErrNotFound if no instance of the study was seen by
// this replica since its last task update.
func (t *Tracker) StudyComplete(ctx context.Context, studyUID string) (Task, error) {
	return t.flush(ctx, studyUID)
}

// SubmitECG routes and upserts an ECG's task at once.
func (t *Tracker) SubmitECG(ctx context.Context, e ECG) (Task, error) {
	if e.ID == "" || !e.Priority.Valid() {
		return Task{}, fmt.Errorf("worklist tracker: ECG without id or with bad priority: %w", ErrInvalid)
	}
	return t.upsert(ctx, Doc{Kind: KindECG, Ref: e.ID, Site: e.Site, Modality: "ECG", ExamType: e.ExamType,
		PatientID: e.PatientID, PatientName: e.PatientName, RequestedPriority: e.Priority}, e.Actor, false)
}

// Pending reports how many studies wait for their quiet period to end.
func (t *Tracker) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending)
}

// Close flushes every pending study (best effort, bounded by ctx) and stops
// the timers.
func (t *Tracker) Close(ctx context.Context) error {
	t.mu.Lock()
	uids := make([]string, 0, len(t.pending))
	for uid, p := range t.pending {
		p.timer.Stop()
		uids = append(uids, uid)
	}
	t.mu.Unlock()
	var errs []error
	for _, uid := range uids {
		if _, err := t.flush(ctx, uid); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
	}
	t.mu.Lock()
	t.cancel()
	t.mu.Unlock()
	t.wg.Wait()
	return errors.Join(errs...)
}

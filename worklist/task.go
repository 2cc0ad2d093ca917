package worklist

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Priority orders tasks: Critical first, then STAT, Urgent, Routine.
type Priority int

// Priorities, lowest first so that a larger value is more urgent.
const (
	Routine Priority = iota
	Urgent
	STAT
	Critical
)

var priorityNames = [...]string{"routine", "urgent", "stat", "critical"}

func (p Priority) String() string {
	if p < Routine || p > Critical {
		return fmt.Sprintf("priority(%d)", int(p))
	}
	return priorityNames[p]
}

// Valid reports whether p is one of the four priorities.
func (p Priority) Valid() bool { return p >= Routine && p <= Critical }

// ParsePriority accepts "routine", "urgent", "stat", "critical" (any case).
func ParsePriority(s string) (Priority, error) {
	for i, n := range priorityNames {
		if strings.EqualFold(s, n) {
			return Priority(i), nil
		}
	}
	return 0, fmt.Errorf("unknown priority %q (want routine, urgent, stat or critical)", s)
}

// MarshalText writes the priority's name.
func (p Priority) MarshalText() ([]byte, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("invalid priority %d", int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText parses a priority name.
func (p *Priority) UnmarshalText(b []byte) error {
	v, err := ParsePriority(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// State is where a task is in its life.
type State string

const (
	// Queued: waiting in its group's queue for the task's stage.
	Queued State = "queued"
	// Claimed: leased to one reader until LeaseExpires.
	Claimed State = "claimed"
	// Done: reported (and signed, for two-step reading).
	Done State = "done"
	// Cancelled: withdrawn; never claimable again.
	Cancelled State = "cancelled"
)

// Stage is the reading step a task waits for. A task completed by a junior
// reader moves from StageRead to StageSign, the "to sign" queue of seniors.
type Stage string

const (
	StageRead Stage = "read"
	StageSign Stage = "sign"
)

// Valid reports whether s is a known stage.
func (s Stage) Valid() bool { return s == StageRead || s == StageSign }

// Kind is what is read.
type Kind string

const (
	KindStudy Kind = "study"
	KindECG   Kind = "ecg"
)

// Flags a task can carry.
const (
	// FlagImagesAdded: instances arrived after the task was reported.
	FlagImagesAdded = "images_added_after_report"
	// FlagSLANear / FlagSLABreached: set by the Escalator.
	FlagSLANear     = "sla_near"
	FlagSLABreached = "sla_breached"
	// FlagCriticalUnclaimed: a critical task waited too long unclaimed.
	FlagCriticalUnclaimed = "critical_unclaimed"
)

// Doc is the static description of what is read. It changes only through
// Upsert (late instances) and is carried whole by created/updated events.
type Doc struct {
	Kind Kind `json:"kind"`
	// Ref is the study instance UID (KindStudy) or the ECG id (KindECG).
	Ref         string `json:"ref"`
	Site        string `json:"site"`
	Modality    string `json:"modality,omitempty"`
	BodyPart    string `json:"body_part,omitempty"`
	ExamType    string `json:"exam_type,omitempty"`
	PatientID   string `json:"patient_id,omitempty"`
	PatientName string `json:"patient_name,omitempty"`
	// Series and Instances count what has arrived so far.
	Series    int `json:"series,omitempty"`
	Instances int `json:"instances,omitempty"`
	// RequestedPriority is what the sender asked for; the task's Priority
	// comes from routing and escalation.
	RequestedPriority Priority `json:"requested_priority"`
}

// Key is the deduplication key of a Doc: one task per study or ECG.
func (d Doc) Key() string { return string(d.Kind) + ":" + d.Ref }

// Task is one reading task.
type Task struct {
	ID string `json:"id"`
	Doc
	Group    string    `json:"group"`
	Stage    Stage     `json:"stage"`
	State    State     `json:"state"`
	Priority Priority  `json:"priority"`
	Due      time.Time `json:"due"`
	Created  time.Time `json:"created"`
	// Assignee holds the lease (Claimed) or, when set while Queued, the
	// reader an admin reassigned the task to (only they may claim it).
	Assignee string `json:"assignee,omitempty"`
	// Reader is who completed the read stage (two-step reading).
	Reader string `json:"reader,omitempty"`
	// LeaseToken proves the lease; only the claimer is shown it.
	LeaseToken   string    `json:"lease_token,omitempty"`
	LeaseExpires time.Time `json:"lease_expires,omitzero"`
	Flags        []string  `json:"flags,omitempty"`
	// Version increases with every state change.
	Version int64   `json:"version"`
	History []Event `json:"history,omitempty"`
}

// HasFlag reports whether the task carries flag f.
func (t Task) HasFlag(f string) bool { return slices.Contains(t.Flags, f) }

// Open reports whether the task can still be claimed or worked.
func (t Task) Open() bool { return t.State == Queued || t.State == Claimed }

// Redacted returns t without its lease token (and without tokens in its
// history), for showing to anyone but the lease holder.
func (t Task) Redacted() Task {
	t.LeaseToken = ""
	if t.History != nil {
		h := make([]Event, len(t.History))
		for i, e := range t.History {
			e.Token = ""
			e.Doc = nil
			h[i] = e
		}
		t.History = h
	}
	return t
}

// Score is the queue position of a task in one number, lower first:
// (3-priority)·10¹³ + due in Unix milliseconds. It is exact in a float64
// (< 2⁵³) for due times before year 2286, which is what Redis sorted sets
// need; ties are broken by ID, which sorts by creation time.
func Score(p Priority, due time.Time) float64 {
	return float64(int64(Critical-p)*1e13 + due.UnixMilli())
}

// Before reports whether a comes before b in queue order: higher priority,
// then earlier due (millisecond resolution), then earlier arrival (ID).
func Before(a, b Task) bool {
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	if ad, bd := a.Due.UnixMilli(), b.Due.UnixMilli(); ad != bd {
		return ad < bd
	}
	return a.ID < b.ID
}

// CompareQueue is Before as a three-way comparison for slices.SortFunc.
func CompareQueue(a, b Task) int {
	switch {
	case Before(a, b):
		return -1
	case Before(b, a):
		return 1
	}
	return 0
}

// Actor is who performs an operation.
type Actor struct {
	ID string `json:"id"`
	// Groups are the reading groups the actor belongs to.
	Groups []string `json:"groups,omitempty"`
	// Senior readers may claim "to sign" tasks and complete them as final.
	Senior bool `json:"senior,omitempty"`
	// Admin may reassign, cancel and act on any group.
	Admin bool `json:"admin,omitempty"`
}

// InGroup reports whether the actor may work group g.
func (a Actor) InGroup(g string) bool { return a.Admin || slices.Contains(a.Groups, g) }

// System is the actor for engine-initiated changes (tracker, escalator,
// lease expiry).
var System = Actor{ID: "system", Admin: true}

// EventType names a state change.
type EventType string

const (
	EvCreated    EventType = "created"
	EvUpdated    EventType = "updated"
	EvFlagged    EventType = "flagged"
	EvClaimed    EventType = "claimed"
	EvRenewed    EventType = "renewed"
	EvReleased   EventType = "released"
	EvExpired    EventType = "expired"
	EvToSign     EventType = "to_sign"
	EvCompleted  EventType = "completed"
	EvReassigned EventType = "reassigned"
	EvCancelled  EventType = "cancelled"
	EvEscalated  EventType = "escalated"
	EvAlert      EventType = "alert"
	// EvResync is never stored: a subscriber that fell behind receives it
	// and should re-list its queue.
	EvResync EventType = "resync"
)

// Event is one state change of a task. It carries the task's whole dynamic
// state after the change (and Doc on created/updated/flagged events), so
// folding a task's events in Seq order reproduces the task; see LoadEvents.
// Times are Unix milliseconds of the backend's clock (Redis TIME on Redis).
type Event struct {
	Seq   int64     `json:"seq"`
	At    int64     `json:"at"`
	Task  string    `json:"task"`
	Type  EventType `json:"type"`
	Actor string    `json:"actor,omitempty"`
	Note  string    `json:"note,omitempty"`

	Group        string   `json:"group"`
	Site         string   `json:"site"`
	Stage        Stage    `json:"stage"`
	State        State    `json:"state"`
	Priority     Priority `json:"priority"`
	Due          int64    `json:"due"`
	Created      int64    `json:"created"`
	Assignee     string   `json:"assignee,omitempty"`
	Reader       string   `json:"reader,omitempty"`
	Token        string   `json:"token,omitempty"`
	LeaseExpires int64    `json:"lease_expires,omitempty"`
	Flags        string   `json:"flags,omitempty"`
	Version      int64    `json:"version"`
	Doc          *Doc     `json:"doc,omitempty"`
}

// Time returns At as a time.Time.
func (e Event) Time() time.Time { return time.UnixMilli(e.At) }

// ObjectKey is where the event is stored: tasks/{task}/events/{at}-{seq}.json
// with zero-padded numbers so lexicographic order is time order.
func (e Event) ObjectKey() string {
	return fmt.Sprintf("tasks/%s/events/%013d-%012d.json", e.Task, e.At, e.Seq)
}

// Apply sets the dynamic state of t from e (and its Doc if e carries one).
func (e Event) Apply(t *Task) {
	t.ID = e.Task
	if e.Doc != nil {
		t.Doc = *e.Doc
	}
	t.Group, t.Stage, t.State, t.Priority = e.Group, e.Stage, e.State, e.Priority
	t.Due, t.Created = time.UnixMilli(e.Due), time.UnixMilli(e.Created)
	t.Assignee, t.Reader, t.LeaseToken = e.Assignee, e.Reader, e.Token
	t.LeaseExpires = time.Time{}
	if e.LeaseExpires > 0 {
		t.LeaseExpires = time.UnixMilli(e.LeaseExpires)
	}
	t.Flags = SplitFlags(e.Flags)
	t.Version = e.Version
}

// SplitFlags parses the comma-separated flag list used on the wire.
func SplitFlags(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// decodeEvent parses one stored event.
func decodeEvent(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, err
	}
	if e.Task == "" || e.Seq <= 0 {
		return Event{}, fmt.Errorf("event without task or seq")
	}
	return e, nil
}

// NewID returns a task id that sorts by creation: 13 hex digits of Unix
// milliseconds, 4 of a per-process counter within the millisecond, 4 random.
// Within one process ids are strictly increasing; across replicas they
// order by the replicas' clocks, which only breaks ties of equal priority
// and due time.
func NewID(now time.Time) string {
	idMu.Lock()
	ms := now.UnixMilli()
	if ms <= idLastMS {
		ms = idLastMS
		idCounter++
		if idCounter > 0xffff {
			ms++
			idCounter = 0
		}
	} else {
		idCounter = 0
	}
	idLastMS = ms
	ctr := idCounter
	idMu.Unlock()
	var b [2]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%013x%04x%s", ms, ctr, hex.EncodeToString(b[:]))
}

var (
	idMu      sync.Mutex
	idLastMS  int64
	idCounter int
)

// ValidID reports whether id looks like a task id (so it is safe in storage
// keys and Redis keys).
func ValidID(id string) bool {
	if len(id) < 8 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}

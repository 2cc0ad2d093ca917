package audit

import "time"

// Outcomes of an audited action.
const (
	OK     = "ok"     // allowed and succeeded
	Denied = "denied" // refused by authentication or authorization
	Failed = "failed" // allowed but failed (bad input, backend error)
)

// Event is what a caller records: who did what to which resource, and how it
// ended. The Log adds the node, sequence and hash chain.
type Event struct {
	Time time.Time `json:"time"`
	// User is the username, "token:<id>" for a bearer token, or "" when the
	// caller was not authenticated (then Detail may name the attempted user).
	User  string   `json:"user"`
	Roles []string `json:"roles,omitempty"`
	Site  string   `json:"site,omitempty"`
	// Action is a verb like "GET /dicom-web/studies/:study", "auth.login",
	// "admin.user.create".
	Action string `json:"action"`
	// Resource names the object acted on: a study UID, "user:li.wei", the
	// request path.
	Resource string `json:"resource,omitempty"`
	// Patient is the patient id of the data read or written, when known, so
	// an inquiry can ask "who saw this patient".
	Patient    string `json:"patient,omitempty"`
	Outcome    string `json:"outcome"`
	Status     int    `json:"status,omitempty"`
	ClientAddr string `json:"client_addr,omitempty"`
	// Purpose is the reason given by the caller (X-Huren-Purpose header),
	// e.g. "互认 lookup for admission".
	Purpose   string `json:"purpose,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

// Recorder accepts events. Record must not block on storage: it queues the
// event and returns; a nil error means the event is acknowledged and will be
// in storage after the next flush or Close.
type Recorder interface {
	Record(e Event) error
}

// Discard is a Recorder that drops everything (tests of other packages, the
// CLI when no audit is wanted).
type Discard struct{}

// Record implements Recorder.
func (Discard) Record(Event) error { return nil }

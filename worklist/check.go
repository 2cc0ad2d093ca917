package worklist

import "fmt"

// ValidateNewTask checks what Upsert needs; backends call it first.
func ValidateNewTask(nt NewTask) error {
	switch {
	case nt.Kind != KindStudy && nt.Kind != KindECG:
		return fmt.Errorf("worklist upsert: kind %q: %w", nt.Kind, ErrInvalid)
	case nt.Ref == "" || len(nt.Ref) > 128:
		return fmt.Errorf("worklist upsert: missing or overlong ref: %w", ErrInvalid)
	case nt.Group == "":
		return fmt.Errorf("worklist upsert %s: no group (route it first): %w", nt.Key(), ErrInvalid)
	case !nt.Priority.Valid() || !nt.RequestedPriority.Valid():
		return fmt.Errorf("worklist upsert %s: invalid priority: %w", nt.Key(), ErrInvalid)
	case nt.Due.IsZero():
		return fmt.Errorf("worklist upsert %s: no due time: %w", nt.Key(), ErrInvalid)
	}
	return nil
}

// ValidateFilter checks f and applies the default limit.
func ValidateFilter(f *Filter) error {
	if f.Limit == 0 {
		f.Limit = 100
	}
	if f.Limit < 0 || f.Limit > 1000 || f.Offset < 0 {
		return fmt.Errorf("worklist list: limit must be 1..1000 and offset >= 0: %w", ErrInvalid)
	}
	if f.Stage != "" && !f.Stage.Valid() {
		return fmt.Errorf("worklist list: stage %q: %w", f.Stage, ErrInvalid)
	}
	switch f.State {
	case "", Queued, Claimed, Done, Cancelled:
	default:
		return fmt.Errorf("worklist list: state %q: %w", f.State, ErrInvalid)
	}
	return nil
}

// Match reports whether t passes f.
func (f Filter) Match(t Task) bool {
	if f.State == "" && !t.Open() || f.State != "" && t.State != f.State {
		return false
	}
	return (f.Group == "" || t.Group == f.Group) && (f.Stage == "" || t.Stage == f.Stage) &&
		(f.Site == "" || t.Site == f.Site) && (f.Assignee == "" || t.Assignee == f.Assignee)
}

// Paginate cuts the page f asks for out of all (already in order).
func Paginate(all []Task, f Filter) Page {
	p := Page{Total: len(all), Tasks: []Task{}}
	if f.Offset < len(all) {
		p.Tasks = all[f.Offset:min(len(all), f.Offset+f.Limit)]
	}
	return p
}

// CheckClaimNext checks a ClaimNext request before touching the backend.
func CheckClaimNext(a Actor, group string, stage Stage) error {
	switch {
	case a.ID == "":
		return fmt.Errorf("worklist claim: no actor: %w", ErrInvalid)
	case group == "" || !stage.Valid():
		return fmt.Errorf("worklist claim: group %q stage %q: %w", group, stage, ErrInvalid)
	case !a.InGroup(group):
		return fmt.Errorf("worklist claim: %s is not in group %s: %w", a.ID, group, ErrForbidden)
	case stage == StageSign && !a.Senior:
		return fmt.Errorf("worklist claim: %s is not a senior reader: %w", a.ID, ErrForbidden)
	}
	return nil
}

// CheckClaim checks whether a may claim t (state aside).
func CheckClaim(a Actor, t Task) error {
	if err := CheckClaimNext(a, t.Group, t.Stage); err != nil {
		return err
	}
	if t.State == Queued && t.Assignee != "" && t.Assignee != a.ID {
		return fmt.Errorf("reassigned to %s: %w", t.Assignee, ErrForbidden)
	}
	if t.Stage == StageSign && t.Reader == a.ID {
		return fmt.Errorf("%s read this task and cannot sign it: %w", a.ID, ErrForbidden)
	}
	return nil
}

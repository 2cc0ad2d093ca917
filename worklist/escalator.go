package worklist

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// EscalatorConfig configures the SLA sweep.
type EscalatorConfig struct {
	Queue Queue
	// Near: a task due within this window is "near due" (priority +1, flag
	// sla_near). 0 means 15 minutes.
	Near time.Duration
	// CriticalUnclaimed: a critical task still queued this long after it
	// was created raises an alert event (flag critical_unclaimed). 0 means
	// 5 minutes.
	CriticalUnclaimed time.Duration
	// Interval between sweeps in Run; 0 means 15 seconds.
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
}

// Escalator sweeps open tasks: it returns expired leases to their queues,
// bumps the priority of tasks near or past due (one level each, with an
// "escalated" event), and raises an "alert" event for critical tasks left
// unclaimed. Every change is guarded by a flag, so several replicas may
// sweep at once without double escalation.
type Escalator struct {
	cfg EscalatorConfig
}

// NewEscalator applies defaults.
func NewEscalator(cfg EscalatorConfig) *Escalator {
	if cfg.Near <= 0 {
		cfg.Near = 15 * time.Minute
	}
	if cfg.CriticalUnclaimed <= 0 {
		cfg.CriticalUnclaimed = 5 * time.Minute
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Escalator{cfg: cfg}
}

// Decide returns the escalations a task needs at now (pure; tested alone).
func (e *Escalator) Decide(t Task, now time.Time) []Escalation {
	if !t.Open() {
		return nil
	}
	var out []Escalation
	bump := min(t.Priority+1, Critical)
	switch {
	case !now.Before(t.Due) && !t.HasFlag(FlagSLABreached):
		out = append(out, Escalation{Priority: bump, Flag: FlagSLABreached, Note: fmt.Sprintf("past due since %s", t.Due.Format(time.RFC3339))})
	case now.Before(t.Due) && t.Due.Sub(now) <= e.cfg.Near && !t.HasFlag(FlagSLANear) && !t.HasFlag(FlagSLABreached):
		out = append(out, Escalation{Priority: bump, Flag: FlagSLANear, Note: fmt.Sprintf("due at %s", t.Due.Format(time.RFC3339))})
	}
	if t.State == Queued && (t.Priority == Critical || len(out) > 0 && out[0].Priority == Critical) &&
		now.Sub(t.Created) >= e.cfg.CriticalUnclaimed && !t.HasFlag(FlagCriticalUnclaimed) {
		out = append(out, Escalation{Priority: Critical, Flag: FlagCriticalUnclaimed, Alert: true,
			Note: fmt.Sprintf("critical task unclaimed for %s", now.Sub(t.Created).Round(time.Second))})
	}
	return out
}

// Sweep runs one pass and reports how many escalations it applied.
func (e *Escalator) Sweep(ctx context.Context) (int, error) {
	if _, err := e.cfg.Queue.Expire(ctx); err != nil {
		return 0, fmt.Errorf("worklist escalator: expire: %w", err)
	}
	now := e.cfg.Now()
	var open []Task
	for off := 0; ; off += 1000 {
		p, err := e.cfg.Queue.List(ctx, Filter{Limit: 1000, Offset: off})
		if err != nil {
			return 0, fmt.Errorf("worklist escalator: list: %w", err)
		}
		open = append(open, p.Tasks...)
		if off+1000 >= p.Total {
			break
		}
	}
	n := 0
	for _, t := range open {
		for _, esc := range e.Decide(t, now) {
			if _, err := e.cfg.Queue.Escalate(ctx, t.ID, esc); err != nil {
				e.cfg.Logger.Warn("worklist escalator: escalate failed", "task", t.ID, "flag", esc.Flag, "err", err)
				continue
			}
			n++
		}
	}
	return n, nil
}

// Run sweeps every Interval until ctx ends.
func (e *Escalator) Run(ctx context.Context) error {
	tk := time.NewTicker(e.cfg.Interval)
	defer tk.Stop()
	for {
		if n, err := e.Sweep(ctx); err != nil {
			e.cfg.Logger.Warn("worklist escalator: sweep failed", "err", err)
		} else if n > 0 {
			e.cfg.Logger.Info("worklist escalator: escalated", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tk.C:
		}
	}
}

package auth

import (
	"context"
	"time"
)

// Session is a logged-in person's server-side session. The cookie carries a
// random id; the State stores it under the id's SHA-256, so a dump of Redis
// yields no usable cookie.
type Session struct {
	Username string    `json:"u"`
	Epoch    int64     `json:"e"` // User.Epoch at login
	CSRF     string    `json:"c"` // synchroniser token the client echoes in X-CSRF-Token
	Created  time.Time `json:"t"`
	// Expires is the absolute end of the session, whatever the activity.
	Expires time.Time `json:"x"`
	Addr    string    `json:"a,omitempty"` // client address at login, for the audit trail
}

// State is the shared, non-durable state of accounts: sessions, login
// failure counters, token last-use times and the generation of the durable
// records. Losing it logs everyone out and forgets lockouts, nothing more.
//
// Implementations (auth/memory, auth/redis) must be safe for concurrent use;
// the Redis one is shared by every replica. auth/statetest checks every
// sentence below.
type State interface {
	// PutSession stores s under key for ttl (the idle timeout), replacing any
	// previous value.
	PutSession(ctx context.Context, key string, s Session, ttl time.Duration) error
	// GetSession returns the session, or an error matching ErrSessionNotFound
	// if it never existed, expired or was deleted.
	GetSession(ctx context.Context, key string) (Session, error)
	// TouchSession extends an existing session's idle ttl. A missing session
	// is ErrSessionNotFound.
	TouchSession(ctx context.Context, key string, ttl time.Duration) error
	// DeleteSession removes a session; missing is not an error.
	DeleteSession(ctx context.Context, key string) error

	// AddFailure counts one failed login under key and returns the count of
	// failures within the window that started with the first one; the counter
	// expires window after its first failure.
	AddFailure(ctx context.Context, key string, window time.Duration) (int64, error)
	// Failures returns the current count under key (0 when none or expired).
	Failures(ctx context.Context, key string) (int64, error)
	// ResetFailures clears the counter.
	ResetFailures(ctx context.Context, key string) error

	// Generation returns the current generation of the durable account
	// records (0 if never bumped).
	Generation(ctx context.Context) (int64, error)
	// BumpGeneration increments and returns the generation; every writer of
	// accounts/ calls it after a successful write.
	BumpGeneration(ctx context.Context) (int64, error)

	// SetTokenUsed records that token id was used at t (monotonic: an
	// earlier t never overwrites a later one).
	SetTokenUsed(ctx context.Context, id string, t time.Time) error
	// TokensUsed returns the last-use times of the given ids that have one.
	TokensUsed(ctx context.Context, ids []string) (map[string]time.Time, error)

	// Ping checks the backend is reachable (readiness).
	Ping(ctx context.Context) error
	// Close releases resources; safe to call twice.
	Close() error
}

// Package errkind is Huren's one error vocabulary. Domain packages declare
// their sentinel errors with New(kind, msg); the HTTP layer maps a Kind to a
// status code in one switch (httpapi.StatusFor), so domain packages never
// import HTTP and handlers never pick status codes ad hoc.
package errkind

import "errors"

// Kind classifies an error by what the caller can do about it.
type Kind int

const (
	Other           Kind = iota // unexpected: 500
	Invalid                     // malformed request or input: 400
	Unauthenticated             // no or bad credentials: 401
	Forbidden                   // authenticated but not allowed: 403
	NotFound                    // no such thing (or not visible to the caller): 404
	NotAcceptable               // cannot produce a representation the client accepts: 406
	Conflict                    // state conflict (already claimed, different bytes for same UID): 409
	Gone                        // existed but expired (lease expired): 410
	TooLarge                    // body or object over a configured limit: 413
	Unsupported                 // unsupported media type / transfer syntax for this operation: 415
	Unprocessable               // well-formed but semantically invalid (bad rule file): 422
	TooMany                     // rate limited / locked out: 429
	Unavailable                 // a backend is down; retry later: 503
)

// Error is a sentinel with a Kind. Compare with errors.Is as usual.
type Error struct {
	Kind Kind
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// New makes a sentinel error of kind k.
func New(k Kind, msg string) error { return &Error{Kind: k, Msg: msg} }

// Of returns the Kind of the first *Error in err's chain, or Other.
func Of(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Other
}

// Package httpapi holds what every Huren HTTP handler shares: the mapping of
// error kinds to status codes and the adapter that writes JSON values and
// error envelopes, so handlers return (value, error) and never write status
// codes ad hoc.
package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/huren-health/huren/errkind"
)

// StatusFor maps an error to its HTTP status. It is the only place that does.
func StatusFor(err error) int {
	if err == nil {
		return http.StatusOK
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	switch errkind.Of(err) {
	case errkind.Invalid:
		return http.StatusBadRequest
	case errkind.Unauthenticated:
		return http.StatusUnauthorized
	case errkind.Forbidden:
		return http.StatusForbidden
	case errkind.NotFound:
		return http.StatusNotFound
	case errkind.NotAcceptable:
		return http.StatusNotAcceptable
	case errkind.Conflict:
		return http.StatusConflict
	case errkind.Gone:
		return http.StatusGone
	case errkind.TooLarge:
		return http.StatusRequestEntityTooLarge
	case errkind.Unsupported:
		return http.StatusUnsupportedMediaType
	case errkind.Unprocessable:
		return http.StatusUnprocessableEntity
	case errkind.TooMany:
		return http.StatusTooManyRequests
	case errkind.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// ErrorBody is the JSON error envelope every API returns.
type ErrorBody struct {
	Error     string `json:"error"`
	Status    int    `json:"status"`
	RequestID string `json:"request_id"`
}

// RequestID returns the request's id (set by the RequestIDs middleware), or a
// fresh one.
func RequestID(c *gin.Context) string {
	if v, ok := c.Get("request_id"); ok {
		if s, ok := v.(string); ok {
			return s
		}
	}
	return uuid.NewString()
}

// RequestIDs assigns every request an id, echoed in X-Request-Id and in error
// bodies and logs, so a user's error report can be found in the logs.
func RequestIDs() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = uuid.NewString()
		}
		c.Set("request_id", id)
		c.Header("X-Request-Id", id)
		c.Next()
	}
}

// Fail writes err as a JSON error envelope with its mapped status. Server
// errors (5xx) are logged with the request id; their text is not shown to the
// client beyond a generic message, as it may contain internal details.
func Fail(c *gin.Context, log *slog.Logger, err error) {
	status := StatusFor(err)
	id := RequestID(c)
	msg := err.Error()
	if status >= 500 {
		if log != nil {
			log.Error("request failed", "request_id", id, "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
		}
		if status == http.StatusServiceUnavailable {
			c.Header("Retry-After", "5")
			msg = "a storage or state backend is unavailable; retry shortly"
		} else {
			msg = "internal error; quote request id " + id + " to the administrator"
		}
	}
	c.AbortWithStatusJSON(status, ErrorBody{Error: msg, Status: status, RequestID: id})
}

// Wrap adapts a handler returning (value, error): a nil error writes value as
// JSON with 200 (or nothing if value is nil and the handler already wrote);
// an error goes through Fail.
func Wrap(log *slog.Logger, f func(*gin.Context) (any, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		v, err := f(c)
		if err != nil {
			Fail(c, log, err)
			return
		}
		if v == nil || c.Writer.Written() {
			return
		}
		c.JSON(http.StatusOK, v)
	}
}

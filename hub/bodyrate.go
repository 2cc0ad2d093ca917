package hub

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"
)

// minBodyRate cuts off request bodies that arrive slower than rate bytes per
// second, measured over window: each window must bring rate×window bytes or
// the connection's read deadline passes and the handler's next read fails.
// Without it, fifty stalled 2 GB uploads held fifty connections and their
// spool files for ever. Requests without a body (GET, SSE) are untouched,
// and a body read to its end clears the deadline, so slow processing after
// the upload is not cut.
func minBodyRate(rate int64, window time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		r := c.Request
		if rate <= 0 || window <= 0 || r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			c.Next()
			return
		}
		ctl := http.NewResponseController(c.Writer)
		if err := ctl.SetReadDeadline(time.Now().Add(window)); err != nil {
			c.Next() // not a real connection (tests with a recorder)
			return
		}
		r.Body = &rateBody{rc: r.Body, ctl: ctl, window: window, quota: max(1, int64(float64(rate)*window.Seconds()))}
		c.Next()
	}
}

type rateBody struct {
	rc     io.ReadCloser
	ctl    *http.ResponseController
	window time.Duration
	quota  int64 // bytes each window must bring
	got    int64 // bytes in the current window
}

func (b *rateBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.got += int64(n)
	switch {
	case errors.Is(err, io.EOF):
		_ = b.ctl.SetReadDeadline(time.Time{})
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		err = fmt.Errorf("request body slower than the minimum upload rate (%d bytes in %s): %w", b.quota, b.window, err)
	case b.got >= b.quota:
		b.got = 0
		_ = b.ctl.SetReadDeadline(time.Now().Add(b.window))
	}
	return n, err
}

func (b *rateBody) Close() error { return b.rc.Close() }

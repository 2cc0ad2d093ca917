package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/worklist"
)

// events streams task events as Server-Sent Events: one "event: <type>"
// with the event JSON (no lease token) as data and the event's seq as id,
// filtered by ?group= (required unless admin; repeatable) and ?site=
// (repeatable). A comment line every Heartbeat keeps proxies from closing
// the stream. An "event: resync" tells the client it missed events and
// should re-list the queue.
func (h *Handler) events(c *gin.Context) (any, error) {
	a, err := h.actor(c)
	if err != nil {
		return nil, err
	}
	groups, sites := c.QueryArray("group"), c.QueryArray("site")
	if !a.Admin {
		if len(groups) == 0 {
			return nil, invalid("group is required")
		}
		for _, g := range groups {
			if err := canSee(a, g); err != nil {
				return nil, err
			}
		}
	}
	ctx := c.Request.Context()
	sub, err := h.cfg.Queue.Subscribe(ctx)
	if err != nil {
		return nil, err
	}
	defer sub.Close()
	match := func(list []string, v string) bool {
		if len(list) == 0 {
			return true
		}
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	}
	wr := c.Writer
	hd := wr.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	wr.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(wr, ": worklist events\n\n"); err != nil {
		return nil, nil
	}
	wr.Flush()
	tick := time.NewTicker(h.cfg.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, nil
		case <-tick.C:
			if _, err := fmt.Fprint(wr, ": ping\n\n"); err != nil {
				return nil, nil
			}
			wr.Flush()
		case e := <-sub.C():
			if e.Type != worklist.EvResync && (!match(groups, e.Group) || !match(sites, e.Site)) {
				continue
			}
			e.Token = ""
			b, err := json.Marshal(e)
			if err != nil {
				h.log.Error("encode event", "err", err)
				continue
			}
			if _, err := fmt.Fprintf(wr, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, b); err != nil {
				return nil, nil
			}
			wr.Flush()
		}
	}
}

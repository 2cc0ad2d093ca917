package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/huren-health/huren/worklist"
)

// Subscribe implements worklist.Queue. The first call starts this
// replica's listener on the events channel and returns once Redis has
// confirmed the subscription, so every event committed after Subscribe
// returns is delivered. If the listener's connection drops, subscribers get
// EvResync when it is back (events in between are not replayed).
func (q *Queue) Subscribe(ctx context.Context) (worklist.Subscription, error) {
	q.subOnce.Do(func() {
		ps := q.c.Subscribe(q.ctx, q.key("events"))
		if _, err := ps.Receive(ctx); err != nil {
			_ = ps.Close()
			q.subErr = scriptErr("subscribe", "", err)
			return
		}
		q.ps = ps
		q.wg.Go(func() { q.listen(ps) })
	})
	if q.subErr != nil {
		return nil, q.subErr
	}
	return q.hub.Subscribe(ctx), nil
}

func (q *Queue) listen(ps *goredis.PubSub) {
	log := q.cfg.LoggerOrDiscard()
	broken := false
	for {
		msg, err := ps.Receive(q.ctx)
		if q.ctx.Err() != nil {
			return
		}
		if err != nil {
			if !broken {
				log.Warn("worklist/redis: event subscription lost; reconnecting", "err", err)
			}
			broken = true
			select {
			case <-time.After(200 * time.Millisecond):
			case <-q.ctx.Done():
				return
			}
			continue
		}
		switch m := msg.(type) {
		case *goredis.Subscription:
			if broken {
				broken = false
				q.hub.Publish(worklist.Event{Type: worklist.EvResync})
			}
		case *goredis.Message:
			// One message carries one event, or a claim batch's events one
			// per line (JSON strings never contain a raw newline).
			for line := range strings.SplitSeq(m.Payload, "\n") {
				var e worklist.Event
				if err := json.Unmarshal([]byte(line), &e); err != nil {
					log.Error("worklist/redis: undecodable event", "err", err)
					continue
				}
				q.hub.Publish(e)
			}
		}
	}
}

const outboxGroup = "writers"

// drainOutbox copies outbox stream entries to object storage, then acks and
// deletes them. It first retries its own pending entries, and every minute
// claims entries another (crashed) replica left pending for over a minute.
func (q *Queue) drainOutbox() {
	log := q.cfg.LoggerOrDiscard().With("component", "worklist.redis.outbox")
	stream := q.key("outbox")
	consumer := newToken()
	backoff := time.Second
	lastClaim := time.Time{}
	ensureGroup := func() {
		err := q.c.XGroupCreateMkStream(q.ctx, stream, outboxGroup, "0").Err()
		if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") && q.ctx.Err() == nil {
			log.Warn("outbox: create consumer group", "err", err)
		}
	}
	ensureGroup()
	sleep := func(d time.Duration) bool {
		select {
		case <-time.After(d):
			return true
		case <-q.ctx.Done():
			return false
		}
	}
	pendingFirst := true
	for q.ctx.Err() == nil {
		var msgs []goredis.XMessage
		var err error
		switch {
		case time.Since(lastClaim) > time.Minute:
			lastClaim = time.Now()
			msgs, _, err = q.c.XAutoClaim(q.ctx, &goredis.XAutoClaimArgs{Stream: stream, Group: outboxGroup,
				Consumer: consumer, MinIdle: time.Minute, Start: "0", Count: 256}).Result()
		case pendingFirst:
			msgs, err = q.read(stream, consumer, "0", 0)
			if err == nil && len(msgs) == 0 {
				pendingFirst = false
				continue
			}
		default:
			msgs, err = q.read(stream, consumer, ">", 2*time.Second)
		}
		if q.ctx.Err() != nil {
			return
		}
		if errors.Is(err, goredis.Nil) {
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), "NOGROUP") {
				ensureGroup() // the stream was deleted (Rebuild)
			} else {
				log.Warn("outbox: read", "err", err)
			}
			if !sleep(backoff) {
				return
			}
			continue
		}
		done, err := q.store(msgs)
		if len(done) > 0 {
			pipe := q.c.Pipeline()
			pipe.XAck(q.ctx, stream, outboxGroup, done...)
			pipe.XDel(q.ctx, stream, done...)
			if _, err := pipe.Exec(q.ctx); err != nil && q.ctx.Err() == nil {
				log.Warn("outbox: ack", "err", err)
			}
		}
		if err != nil {
			pendingFirst = true
			log.Warn("outbox: object storage write failed; events stay in the outbox and are retried", "retry_in", backoff, "err", err)
			if !sleep(backoff) {
				return
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
	}
}

func (q *Queue) read(stream, consumer, start string, block time.Duration) ([]goredis.XMessage, error) {
	args := &goredis.XReadGroupArgs{Group: outboxGroup, Consumer: consumer, Streams: []string{stream, start}, Count: 256, Block: block}
	if block == 0 {
		args.Block = -1 // no BLOCK argument: return at once
	}
	res, err := q.c.XReadGroup(q.ctx, args).Result()
	if err != nil || len(res) == 0 {
		return nil, err
	}
	return res[0].Messages, nil
}

// store writes msgs in order and returns the ids written.
func (q *Queue) store(msgs []goredis.XMessage) ([]string, error) {
	var done []string
	for _, m := range msgs {
		js, _ := m.Values["e"].(string)
		var e worklist.Event
		if err := json.Unmarshal([]byte(js), &e); err != nil || e.Task == "" {
			// Cannot happen for entries our scripts wrote; drop it loudly
			// rather than block the outbox forever.
			q.cfg.LoggerOrDiscard().Error("worklist/redis outbox: dropping undecodable entry", "id", m.ID, "err", err)
			done = append(done, m.ID)
			continue
		}
		ctx, cancel := context.WithTimeout(q.ctx, 30*time.Second)
		err := worklist.WriteEventJSON(ctx, q.cfg.Store, e.ObjectKey(), []byte(js))
		cancel()
		if err != nil {
			return done, fmt.Errorf("event %s: %w", m.ID, err)
		}
		done = append(done, m.ID)
	}
	return done, nil
}

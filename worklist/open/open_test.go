package open_test

import (
	"context"
	"errors"
	"testing"

	"github.com/huren-health/huren/internal/testbackend"
	"github.com/huren-health/huren/worklist"
	"github.com/huren-health/huren/worklist/open"
	"github.com/huren-health/huren/worklist/worklisttest"
)

func TestValidate(t *testing.T) {
	for _, c := range []open.Config{{Backend: "mongo"}, {Backend: "redis"}, {Backend: "redis", RedisURL: "http://x"}} {
		if err := c.Validate(); !errors.Is(err, open.ErrConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if err := (open.Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRedisUnreachable(t *testing.T) {
	_, err := open.Open(context.Background(), open.Config{Backend: "redis", RedisURL: "redis://127.0.0.1:1"})
	if !errors.Is(err, worklist.ErrUnavailable) {
		t.Fatalf("err %v", err)
	}
}

// The queue Open returns (with the owned client) passes the contract.
func TestOpenRedisContract(t *testing.T) {
	addr := testbackend.RedisAddr(t)
	worklisttest.Run(t, func(t *testing.T) worklisttest.Replicas {
		prefix := testbackend.UniqueName("wlopen-")
		return func(c worklist.Config) worklist.Queue {
			q, err := open.Open(context.Background(), open.Config{Backend: "redis", RedisURL: "redis://" + addr, Prefix: prefix, Queue: c})
			if err != nil {
				t.Fatal(err)
			}
			return q
		}
	})
}

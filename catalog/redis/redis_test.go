package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/catalog/catalogtest"
	"github.com/huren-health/huren/catalog/redis"
	"github.com/huren-health/huren/internal/testbackend"
)

// newCatalog opens a catalog on the test Redis under a fresh prefix; at
// the end it resets the prefix and checks that no key is left behind.
func newCatalog(t *testing.T) catalog.Catalog {
	t.Helper()
	addr := testbackend.RedisAddr(t)
	prefix := testbackend.UniqueName("test:catalog:")
	c, err := redis.Open(context.Background(), redis.Config{Addr: addr, Prefix: prefix}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rdb := goredis.NewClient(&goredis.Options{Addr: addr})
		defer rdb.Close()
		if err := redis.New(rdb, prefix, nil).Reset(context.Background()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if keys, err := rdb.Keys(context.Background(), "{"+prefix+"}*").Result(); err != nil || len(keys) > 0 {
			t.Errorf("Reset left %d keys (%v): %.5q", len(keys), err, keys)
		}
	})
	return c
}

func TestContract(t *testing.T) { catalogtest.Run(t, newCatalog) }

func TestUnavailable(t *testing.T) {
	ctx := context.Background()
	cfg := redis.Config{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond}
	if _, err := redis.Open(ctx, cfg, nil); !errors.Is(err, catalog.ErrUnavailable) {
		t.Errorf("Open(unreachable) = %v, want ErrUnavailable", err)
	}
	// A client that loses its server: every operation reports ErrUnavailable.
	c := redis.New(goredis.NewClient(&goredis.Options{Addr: cfg.Addr, DialTimeout: cfg.DialTimeout, MaxRetries: -1}), "x", nil)
	defer c.Close()
	rec := catalogtest.Fixture()[0]
	for name, err := range map[string]error{
		"Put":       c.Put(ctx, rec),
		"Delete":    c.Delete(ctx, rec.InstanceUID),
		"Reset":     c.Reset(ctx),
		"Instance":  second(c.Instance(ctx, rec.InstanceUID)),
		"Instances": second(c.Instances(ctx, rec.StudyUID, "")),
		"Search":    second(c.Search(ctx, catalog.Query{Level: catalog.StudyLevel})),
		"SearchPID": second(c.Search(ctx, catalog.Query{Level: catalog.SeriesLevel, Matches: []catalog.Match{{Tag: "PatientID", Value: "1"}}})),
	} {
		if !errors.Is(err, catalog.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", name, err)
		}
	}
	// Invalid input is reported before any I/O.
	if err := c.Put(ctx, catalog.Record{}); !errors.Is(err, catalog.ErrInvalidRecord) {
		t.Errorf("Put(invalid) = %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []redis.Config{{}, {Addr: "x:1", Prefix: "a{b}"}} {
		if cfg.Validate() == nil {
			t.Errorf("%+v: Validate() = nil", cfg)
		}
	}
	if err := (redis.Config{Addr: "x:1"}).Validate(); err != nil {
		t.Error(err)
	}
}

// TestDeleteLeavesNothing checks that deleting every instance removes
// every key, the indexes' included.
func TestDeleteLeavesNothing(t *testing.T) {
	ctx := context.Background()
	c, rdb, prefix := fixtureCatalog(t)
	recs := catalogtest.Fixture()
	if n, err := rdb.Exists(ctx, "{"+prefix+"}:x:pnwd").Result(); err != nil || n != 1 {
		t.Fatalf("word dictionary missing after Puts (%d, %v)", n, err)
	}
	for _, rec := range recs {
		if err := c.Delete(ctx, rec.InstanceUID); err != nil {
			t.Fatal(err)
		}
	}
	if keys, err := rdb.Keys(ctx, "{"+prefix+"}*").Result(); err != nil || len(keys) > 0 {
		t.Errorf("%d keys left after deleting everything (%v): %.8q", len(keys), err, keys)
	}
}

// fixtureCatalog opens a catalog under a fresh prefix on its own client
// (tests that look at raw keys use rdb), loaded with catalogtest.Fixture.
func fixtureCatalog(t *testing.T) (*redis.Catalog, *goredis.Client, string) {
	t.Helper()
	prefix := testbackend.UniqueName("test:catalog:")
	rdb := goredis.NewClient(&goredis.Options{Addr: testbackend.RedisAddr(t)})
	t.Cleanup(func() { rdb.Close() })
	c := redis.New(rdb, prefix, nil)
	t.Cleanup(func() { _ = c.Reset(context.Background()) })
	for _, r := range catalogtest.Fixture() {
		if err := c.Put(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	return c, rdb, prefix
}

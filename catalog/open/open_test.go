package open_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/catalog/bolt"
	"github.com/huren-health/huren/catalog/catalogtest"
	"github.com/huren-health/huren/catalog/memory"
	"github.com/huren-health/huren/catalog/open"
	"github.com/huren-health/huren/catalog/redis"
	"github.com/huren-health/huren/internal/testbackend"
)

func TestOpenMemory(t *testing.T) {
	for _, b := range []string{"", open.Memory} {
		c, err := open.Open(context.Background(), open.Config{Backend: b}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.(*memory.Catalog); !ok {
			t.Errorf("backend %q: %T", b, c)
		}
		_ = c.Close()
	}
}

func TestOpenRedis(t *testing.T) {
	ctx := context.Background()
	cfg := open.Config{Backend: open.Redis, Redis: redis.Config{Addr: testbackend.RedisAddr(t), Prefix: testbackend.UniqueName("test:open:")}}
	c, err := open.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer c.Reset(ctx)
	if _, ok := c.(*redis.Catalog); !ok {
		t.Fatalf("%T", c)
	}
	if err := c.Put(ctx, catalogtest.Fixture()[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Instance(ctx, catalogtest.Fixture()[0].InstanceUID); err != nil {
		t.Error(err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []open.Config{{Backend: "postgres"}, {Backend: open.Redis}} {
		if _, err := open.Open(ctx, cfg, nil); err == nil || errors.Is(err, catalog.ErrUnavailable) {
			t.Errorf("%+v: %v, want a configuration error", cfg, err)
		}
	}
	cfg := open.Config{Backend: open.Redis, Redis: redis.Config{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond}}
	if _, err := open.Open(ctx, cfg, nil); !errors.Is(err, catalog.ErrUnavailable) {
		t.Errorf("unreachable: %v, want ErrUnavailable", err)
	}
}

func TestOpenBolt(t *testing.T) {
	cfg := open.Config{Backend: open.Bolt, BoltPath: filepath.Join(t.TempDir(), "catalog.bolt")}
	c, err := open.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*bolt.Catalog); !ok {
		t.Fatalf("%T", c)
	}
	if err := (open.Config{Backend: open.Bolt}).Validate(); err == nil {
		t.Fatal("bolt without a path: no error")
	}
}

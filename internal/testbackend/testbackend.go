// Package testbackend tells tests where the real Redis and MinIO started by
// scripts/test are. Without them a backend test skips with a clear message;
// under scripts/test (HUREN_TEST_REQUIRE_BACKENDS=1) a missing backend fails
// the test instead, so CI can never go green by skipping.
package testbackend

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
)

// S3 holds MinIO connection settings for tests.
type S3 struct {
	Endpoint  string
	AccessKey string
	SecretKey string
}

func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("HUREN_TEST_REQUIRE_BACKENDS") == "1" {
		t.Fatalf("%s not configured but HUREN_TEST_REQUIRE_BACKENDS=1", what)
	}
	t.Skipf("%s not configured; run ./scripts/test to test against a real server", what)
}

// RedisAddr returns HUREN_TEST_REDIS_ADDR or skips/fails.
func RedisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("HUREN_TEST_REDIS_ADDR")
	if addr == "" {
		missing(t, "HUREN_TEST_REDIS_ADDR (Redis)")
	}
	return addr
}

// MinIO returns the S3 settings or skips/fails.
func MinIO(t testing.TB) S3 {
	t.Helper()
	s := S3{
		Endpoint:  os.Getenv("HUREN_TEST_S3_ENDPOINT"),
		AccessKey: os.Getenv("HUREN_TEST_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("HUREN_TEST_S3_SECRET_KEY"),
	}
	if s.Endpoint == "" || s.AccessKey == "" || s.SecretKey == "" {
		missing(t, "HUREN_TEST_S3_ENDPOINT/ACCESS_KEY/SECRET_KEY (MinIO)")
	}
	return s
}

// UniqueName returns prefix plus 12 random hex characters, for per-test
// buckets and key prefixes so tests can run in parallel on shared servers.
func UniqueName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

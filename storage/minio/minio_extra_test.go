package minio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	mc "github.com/minio/minio-go/v7"

	"github.com/huren-health/huren/internal/testbackend"
	"github.com/huren-health/huren/storage"
)

func TestConfigValidate(t *testing.T) {
	good := Config{Endpoint: "127.0.0.1:9000", AccessKey: "a", SecretKey: "s", Bucket: "huren"}
	tests := []struct {
		name    string
		mut     func(*Config)
		wantErr string
	}{
		{"ok", func(*Config) {}, ""},
		{"ok prefix", func(c *Config) { c.Prefix = "tenant/huren/" }, ""},
		{"no endpoint", func(c *Config) { c.Endpoint = "" }, "Endpoint is empty"},
		{"scheme", func(c *Config) { c.Endpoint = "http://h:9000" }, "without scheme"},
		{"no access key", func(c *Config) { c.AccessKey = "" }, "AccessKey is empty"},
		{"no secret", func(c *Config) { c.SecretKey = "" }, "SecretKey is empty"},
		{"bad bucket", func(c *Config) { c.Bucket = "Bad_Bucket" }, "Bucket"},
		{"empty bucket", func(c *Config) { c.Bucket = "" }, "Bucket"},
		{"bad prefix", func(c *Config) { c.Prefix = "../x" }, "Prefix"},
		{"part too small", func(c *Config) { c.PartSize = 1 << 20 }, "PartSize"},
		{"negative retries", func(c *Config) { c.MaxRetries = -1 }, "MaxRetries"},
	}
	for _, tc := range tests {
		c := good
		tc.mut(&c)
		err := c.Validate()
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: Validate() = %v, want an error mentioning %q", tc.name, err, tc.wantErr)
		}
		if _, err := New(c, nil); err == nil {
			t.Errorf("%s: New accepted an invalid config", tc.name)
		}
	}
}

// An unreachable server is ErrUnavailable, quickly, for every operation.
func TestUnreachableIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	s, err := New(Config{Endpoint: addr, AccessKey: "a", SecretKey: "s", Bucket: "huren", MaxRetries: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	checks := map[string]error{}
	checks["Init"] = s.Init(ctx)
	_, checks["Stat"] = s.Stat(ctx, "a")
	_, _, checks["Get"] = s.Get(ctx, "a")
	_, checks["GetRange"] = s.GetRange(ctx, "a", 1, 2)
	_, checks["Put"] = s.Put(ctx, "a", strings.NewReader("x"), storage.PutOptions{})
	_, checks["PutIfAbsent"] = s.PutIfAbsent(ctx, "a", strings.NewReader("x"), storage.PutOptions{})
	checks["List"] = s.List(ctx, "", func(storage.Info) error { return nil })
	checks["Delete"] = s.Delete(ctx, "a")
	for op, err := range checks {
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s against a closed port = %v, want ErrUnavailable", op, err)
		}
	}
}

func TestPresignGet(t *testing.T) {
	s := newTestStore(t, "p")
	var _ storage.Presigner = s
	body := []byte("presigned content")
	if _, err := s.Put(t.Context(), "x/y.dcm", bytes.NewReader(body), storage.PutOptions{ContentType: "application/dicom"}); err != nil {
		t.Fatal(err)
	}
	u, err := s.PresignGet(t.Context(), "x/y.dcm", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Fatalf("GET presigned URL = %d %q, want 200 %q", resp.StatusCode, got, body)
	}
	if _, err := s.PresignGet(t.Context(), "../x", time.Minute); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("PresignGet(../x) = %v, want ErrInvalidKey", err)
	}
	if _, err := s.PresignGet(t.Context(), "x", 30*24*time.Hour); err == nil {
		t.Errorf("PresignGet accepted a 30-day expiry")
	}
}

// Stores with different prefixes in one bucket do not see each other, and
// the reserved temp segment is not a usable key.
func TestPrefixIsolationAndReservedKeys(t *testing.T) {
	a := newTestStore(t, "a")
	cfg := Config{Endpoint: testbackend.MinIO(t).Endpoint, AccessKey: testbackend.MinIO(t).AccessKey, SecretKey: testbackend.MinIO(t).SecretKey, Bucket: a.bucket, Prefix: "b/"}
	b, err := Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := a.Put(ctx, "k", strings.NewReader("from a"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "k"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("b sees a's key: %v", err)
	}
	n := 0
	b.List(ctx, "", func(storage.Info) error { n++; return nil })
	if n != 0 {
		t.Errorf("b lists %d of a's objects", n)
	}
	for _, key := range []string{".huren-tmp", ".huren-tmp/x"} {
		if _, err := a.Put(ctx, key, strings.NewReader("x"), storage.PutOptions{}); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	// Init twice is fine.
	if err := b.Init(ctx); err != nil {
		t.Errorf("second Init: %v", err)
	}
}

// errAfter fails after n bytes.
type errAfter struct{ n int }

var errSource = errors.New("source broke")

func (e *errAfter) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, errSource
	}
	k := min(len(p), e.n)
	for i := range p[:k] {
		p[i] = byte(i)
	}
	e.n -= k
	return k, nil
}

// Failed and completed large Puts leave no temp objects and no incomplete
// multipart uploads behind.
func TestLargePutLeavesNoDebris(t *testing.T) {
	s := newTestStore(t, "")
	ctx := t.Context()
	big := bytes.Repeat([]byte("0123456789abcdef"), 5<<18) // 20 MiB: two parts
	if _, err := s.Put(ctx, "ok", bytes.NewReader(big), storage.PutOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "broken", &errAfter{n: 18 << 20}, storage.PutOptions{}); !errors.Is(err, errSource) {
		t.Fatalf("Put with a broken source = %v", err)
	}
	if _, err := s.Put(ctx, "digest", bytes.NewReader(big), storage.PutOptions{SHA256: strings.Repeat("0", 64)}); !errors.Is(err, storage.ErrDigestMismatch) {
		t.Fatalf("Put with a wrong digest = %v", err)
	}
	var names []string
	for oi := range s.client.ListObjects(ctx, s.bucket, mc.ListObjectsOptions{Recursive: true}) {
		names = append(names, oi.Key)
	}
	if len(names) != 1 || names[0] != "ok" {
		t.Errorf("bucket holds %v, want only ok", names)
	}
	for u := range s.client.ListIncompleteUploads(ctx, s.bucket, "", true) {
		t.Errorf("incomplete upload left behind: %s %s %v", u.Key, u.UploadID, u.Err)
	}
}

// Init removes temp objects older than a day (a writer died between upload
// and copy) but leaves young ones (a writer may still be copying).
func TestInitSweepsStaleTemp(t *testing.T) {
	s := newTestStore(t, "")
	ctx := context.Background()
	if _, err := s.client.PutObject(ctx, s.bucket, s.tmp+"young", strings.NewReader("x"), 1, mc.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	// The server sets LastModified; simulate age by sweeping with a clock a
	// day ahead instead.
	if err := s.sweepBefore(ctx, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.StatObject(ctx, s.bucket, s.tmp+"young", mc.StatObjectOptions{}); err != nil {
		t.Fatalf("young temp object swept: %v", err)
	}
	if err := s.sweepBefore(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.StatObject(ctx, s.bucket, s.tmp+"young", mc.StatObjectOptions{}); mc.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Fatalf("stale temp object not swept: %v", err)
	}
}

// MinIO's listing carries hash and content type, so List needs no HEAD per
// object (reindex lists millions).
func TestListingMetadataIsComplete(t *testing.T) {
	s := newTestStore(t, "")
	ctx := t.Context()
	for _, size := range []int{1, 20 << 20} { // single PUT and multipart+copy
		key := "k" + strings.Repeat("x", size%7)
		if _, err := s.Put(ctx, key, bytes.NewReader(bytes.Repeat([]byte("y"), size)), storage.PutOptions{ContentType: "application/dicom"}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for oi := range s.client.ListObjects(ctx, s.bucket, mc.ListObjectsOptions{Recursive: true, WithMetadata: true}) {
		if oi.Err != nil {
			t.Fatal(oi.Err)
		}
		n++
		info := s.info(oi.Key, oi)
		if len(info.SHA256) != 64 || info.ContentType != "application/dicom" {
			t.Errorf("listing of %s gives Info %+v: List would fall back to a HEAD", oi.Key, info)
		}
	}
	if n != 2 {
		t.Fatalf("listed %d objects, want 2", n)
	}
}

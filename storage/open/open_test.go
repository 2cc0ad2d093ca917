package open

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/huren-health/huren/internal/testbackend"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/fs"
	"github.com/huren-health/huren/storage/minio"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParse(t *testing.T) {
	noEnv := env(nil)
	withEnv := env(map[string]string{EnvAccessKey: "envkey", EnvSecretKey: "envsecret"})
	mc := func(c minio.Config) Config { return Config{Backend: BackendMinIO, MinIO: c} }
	fsc := func(root string) Config { return Config{Backend: BackendFS, FS: fs.Config{Root: root}} }
	tests := []struct {
		url     string
		getenv  func(string) string
		want    Config
		wantErr string
	}{
		{"", noEnv, fsc(DefaultRoot), ""},
		{"   ", noEnv, fsc(DefaultRoot), ""},
		{"/var/lib/huren", noEnv, fsc("/var/lib/huren"), ""},
		{"./data", noEnv, fsc("./data"), ""},
		{"data", noEnv, fsc("data"), ""},
		{"/data/with:colon", noEnv, fsc("/data/with:colon"), ""},
		{"file:///srv/huren", noEnv, fsc("/srv/huren"), ""},
		{"file://localhost/srv/huren", noEnv, fsc("/srv/huren"), ""},
		{"file:relative", noEnv, Config{}, "must be absolute"},
		{"file://otherhost/srv", noEnv, Config{}, `host "otherhost"`},
		{"file:///", noEnv, Config{}, "no directory"},
		{"file:///srv?x=1", noEnv, Config{}, "no user, query"},
		{"minio://AK:SK@127.0.0.1:9000/huren", noEnv,
			mc(minio.Config{Endpoint: "127.0.0.1:9000", AccessKey: "AK", SecretKey: "SK", Bucket: "huren"}), ""},
		{"minio://AK:S%2FK@minio.local:9000/huren?secure=true&prefix=county-a&region=cn-north-1&part_size_mb=32&max_retries=5", noEnv,
			mc(minio.Config{Endpoint: "minio.local:9000", AccessKey: "AK", SecretKey: "S/K", Bucket: "huren", Secure: true, Prefix: "county-a", Region: "cn-north-1", PartSize: 32 << 20, MaxRetries: 5}), ""},
		{"minio://AK:SK@h:9000/huren/tenant/a/", noEnv,
			mc(minio.Config{Endpoint: "h:9000", AccessKey: "AK", SecretKey: "SK", Bucket: "huren", Prefix: "tenant/a"}), ""},
		{"s3://AK:SK@s3.example.com/huren", noEnv,
			mc(minio.Config{Endpoint: "s3.example.com", AccessKey: "AK", SecretKey: "SK", Bucket: "huren", Secure: true}), ""},
		{"s3://AK:SK@h/huren?secure=false", noEnv,
			mc(minio.Config{Endpoint: "h", AccessKey: "AK", SecretKey: "SK", Bucket: "huren"}), ""},
		{"minio://h:9000/huren", withEnv,
			mc(minio.Config{Endpoint: "h:9000", AccessKey: "envkey", SecretKey: "envsecret", Bucket: "huren"}), ""},
		{"minio://urlkey@h:9000/huren", withEnv,
			mc(minio.Config{Endpoint: "h:9000", AccessKey: "urlkey", SecretKey: "envsecret", Bucket: "huren"}), ""},
		{"MINIO://AK:SK@h:9000/huren", noEnv,
			mc(minio.Config{Endpoint: "h:9000", AccessKey: "AK", SecretKey: "SK", Bucket: "huren"}), ""},
		{"minio://h:9000/huren", noEnv, Config{}, EnvAccessKey},
		{"minio://AK@h:9000/huren", noEnv, Config{}, EnvSecretKey},
		{"minio://AK:SK@h:9000", noEnv, Config{}, "missing bucket"},
		{"minio://AK:SK@h:9000/", noEnv, Config{}, "missing bucket"},
		{"minio://AK:SK@/huren", noEnv, Config{}, "missing host"},
		{"minio:h:9000/huren", noEnv, Config{}, "missing host"},
		{"minio://AK:SK@h:99999/huren", noEnv, Config{}, "bad port"},
		{"minio://AK:SK@h:9000/Bad_Bucket", noEnv, Config{}, "Bucket"},
		{"minio://AK:SK@h:9000/huren?secure=maybe", noEnv, Config{}, "secure="},
		{"minio://AK:SK@h:9000/huren?secrue=true", noEnv, Config{}, `unknown parameter "secrue"`},
		{"minio://AK:SK@h:9000/huren?secure=true&secure=false", noEnv, Config{}, "given 2 times"},
		{"minio://AK:SK@h:9000/huren/p?prefix=q", noEnv, Config{}, "both in the path"},
		{"minio://AK:SK@h:9000/huren?prefix=../x", noEnv, Config{}, "Prefix"},
		{"minio://AK:SK@h:9000/huren?part_size_mb=1", noEnv, Config{}, "PartSize"},
		{"minio://AK:SK@h:9000/huren?part_size_mb=x", noEnv, Config{}, "part_size_mb"},
		{"minio://AK:SK@h:9000/huren#frag", noEnv, Config{}, "fragment"},
		{"gs://bucket/x", noEnv, Config{}, `unsupported scheme "gs"`},
		{"http://h:9000/huren", noEnv, Config{}, `unsupported scheme "http"`},
	}
	for _, tc := range tests {
		got, err := Parse(tc.url, tc.getenv)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse(%q) error = %v, want one mentioning %q", tc.url, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.url, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tc.url, diff)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("Parse(%q) result does not validate: %v", tc.url, err)
		}
	}
}

// Errors never echo the secret key.
func TestParseErrorsHideSecret(t *testing.T) {
	for _, u := range []string{
		"minio://AK:topsecret@h:9000/huren?bogus=1",
		"minio://AK:topsecret@h:9000",
		"s3://AK:topsecret@h:9000/Bad_Bucket",
		"minio://AK:topsecret@h:bad port/huren",
		"gs://AK:topsecret@h/b",
	} {
		_, err := Parse(u, nil)
		if err == nil {
			t.Errorf("Parse(%q) succeeded", u)
			continue
		}
		if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("Parse(%q) error leaks the secret: %v", u, err)
		}
	}
}

func TestValidateUnknownBackend(t *testing.T) {
	if err := (Config{Backend: "tape"}).Validate(); err == nil || !strings.Contains(err.Error(), `"tape"`) {
		t.Errorf("Validate(tape) = %v", err)
	}
	if _, err := New(context.Background(), Config{Backend: "tape"}, nil); err == nil {
		t.Error("New(tape) succeeded")
	}
}

func roundTrip(t *testing.T, s storage.Store) {
	t.Helper()
	ctx := t.Context()
	if _, err := s.Put(ctx, "k/v", strings.NewReader("hello"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(ctx, "k/v")
	if err != nil || info.Size != 5 {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenFS(t *testing.T) {
	dir := t.TempDir()
	for _, u := range []string{dir + "/plain", "file://" + dir + "/url"} {
		s, err := Open(t.Context(), u, nil)
		if err != nil {
			t.Fatalf("Open(%q): %v", u, err)
		}
		if _, ok := s.(*fs.Store); !ok {
			t.Fatalf("Open(%q) = %T, want *fs.Store", u, s)
		}
		roundTrip(t, s)
	}
}

func TestOpenMinIO(t *testing.T) {
	be := testbackend.MinIO(t)
	bucket := testbackend.UniqueName("huren-open-")
	t.Setenv(EnvAccessKey, be.AccessKey)
	t.Setenv(EnvSecretKey, be.SecretKey)
	s, err := Open(t.Context(), "minio://"+be.Endpoint+"/"+bucket+"/p?secure=false", nil)
	if err != nil {
		t.Fatal(err)
	}
	ms, ok := s.(*minio.Store)
	if !ok {
		t.Fatalf("Open = %T, want *minio.Store", s)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		ms.Delete(ctx, "k/v")
		if err := minioRemoveBucket(ctx, be, bucket); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	roundTrip(t, s)
	if _, err := Open(t.Context(), "minio://"+be.Endpoint+"/"+bucket+"?max_retries=1&secure=false", nil); err != nil {
		t.Fatalf("second Open of an existing bucket: %v", err)
	}
}

// An unreachable server fails Open with ErrUnavailable.
func TestOpenMinIOUnreachable(t *testing.T) {
	_, err := Open(t.Context(), "minio://a:b@127.0.0.1:1/huren?max_retries=1", nil)
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Open(unreachable) = %v, want ErrUnavailable", err)
	}
}

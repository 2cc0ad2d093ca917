// Package open turns one storage URL into a storage.Store, with an explicit
// switch over the backends Huren ships (no init() registration):
//
//	""                                   fs under DefaultRoot
//	/var/lib/huren, ./data, data         fs under that directory
//	file:///var/lib/huren                fs under that directory
//	minio://KEY:SECRET@host:9000/bucket  MinIO, plain HTTP unless ?secure=true
//	s3://KEY:SECRET@host/bucket/prefix   S3 or MinIO, HTTPS unless ?secure=false
//
// Query parameters for minio:// and s3:// (anything else is an error):
// secure=true|false, prefix=P (or a path after the bucket), region=R,
// part_size_mb=N, max_retries=N. Access and secret keys missing from the URL
// come from the environment (HUREN_S3_ACCESS_KEY, HUREN_S3_SECRET_KEY), so
// secrets need not appear on command lines. Errors name the offending part
// and never echo the secret.
package open

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/fs"
	"github.com/huren-health/huren/storage/minio"
)

// DefaultRoot is the data directory used for an empty URL.
const DefaultRoot = "huren-data"

// Environment variables consulted for credentials missing from the URL.
const (
	EnvAccessKey = "HUREN_S3_ACCESS_KEY"
	EnvSecretKey = "HUREN_S3_SECRET_KEY"
)

// Backend names.
const (
	BackendFS    = "fs"
	BackendMinIO = "minio"
)

// Config is a parsed storage URL: which backend and its typed config.
type Config struct {
	Backend string // BackendFS or BackendMinIO
	FS      fs.Config
	MinIO   minio.Config
}

// Validate checks the selected backend's config.
func (c Config) Validate() error {
	switch c.Backend {
	case BackendFS:
		return c.FS.Validate()
	case BackendMinIO:
		return c.MinIO.Validate()
	default:
		return fmt.Errorf("storage: unknown backend %q (want %q or %q)", c.Backend, BackendFS, BackendMinIO)
	}
}

// Parse parses a storage URL (see the package documentation). getenv
// supplies credentials the URL omits; pass os.Getenv in production.
func Parse(rawURL string, getenv func(string) string) (Config, error) {
	raw := strings.TrimSpace(rawURL)
	if raw == "" {
		return Config{Backend: BackendFS, FS: fs.Config{Root: DefaultRoot}}, nil
	}
	if !looksLikeURL(raw) {
		return Config{Backend: BackendFS, FS: fs.Config{Root: raw}}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("storage URL: %w", redactErr(err, raw))
	}
	switch strings.ToLower(u.Scheme) {
	case "file":
		return parseFile(u)
	case "minio":
		return parseS3(u, false, getenv)
	case "s3":
		return parseS3(u, true, getenv)
	default:
		return Config{}, fmt.Errorf("storage URL %s: unsupported scheme %q (want a path, file://, minio:// or s3://)", u.Redacted(), u.Scheme)
	}
}

// looksLikeURL: a known scheme followed by ':' (so a typo like "minio:host"
// is an error, not a directory), or any scheme followed by "://".
func looksLikeURL(raw string) bool {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || scheme == "" {
		return false
	}
	for i, r := range scheme {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return false
		}
	}
	switch strings.ToLower(scheme) {
	case "file", "minio", "s3":
		return true
	}
	return strings.HasPrefix(rest, "//")
}

func parseFile(u *url.URL) (Config, error) {
	if u.Opaque != "" {
		return Config{}, fmt.Errorf("storage URL %s: file URL must be absolute (file:///path), got %q", u.Redacted(), u.Opaque)
	}
	if u.Host != "" && u.Host != "localhost" {
		return Config{}, fmt.Errorf("storage URL %s: file URL host %q not supported (want file:///path)", u.Redacted(), u.Host)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Config{}, fmt.Errorf("storage URL %s: file URL takes no user, query or fragment", u.Redacted())
	}
	if u.Path == "" || u.Path == "/" {
		return Config{}, fmt.Errorf("storage URL %s: file URL has no directory", u.Redacted())
	}
	return Config{Backend: BackendFS, FS: fs.Config{Root: u.Path}}, nil
}

func parseS3(u *url.URL, secureDefault bool, getenv func(string) string) (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("storage URL %s: %s", u.Redacted(), fmt.Sprintf(format, args...))
	}
	c := minio.Config{Endpoint: u.Host, Secure: secureDefault}
	if u.Host == "" {
		return bad("missing host (want %s://host:port/bucket)", u.Scheme)
	}
	if u.Port() != "" {
		if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
			return bad("bad port %q", u.Port())
		}
	}
	if u.User != nil {
		c.AccessKey = u.User.Username()
		c.SecretKey, _ = u.User.Password()
	}
	if c.AccessKey == "" && getenv != nil {
		c.AccessKey = getenv(EnvAccessKey)
	}
	if c.SecretKey == "" && getenv != nil {
		c.SecretKey = getenv(EnvSecretKey)
	}
	if c.AccessKey == "" {
		return bad("no access key (put it in the URL user part or set %s)", EnvAccessKey)
	}
	if c.SecretKey == "" {
		return bad("no secret key (put it in the URL password part or set %s)", EnvSecretKey)
	}
	path := strings.Trim(u.Path, "/")
	bucket, pathPrefix, _ := strings.Cut(path, "/")
	if bucket == "" {
		return bad("missing bucket (want %s://host:port/BUCKET)", u.Scheme)
	}
	c.Bucket = bucket
	c.Prefix = pathPrefix
	if u.Fragment != "" {
		return bad("unexpected fragment %q", u.Fragment)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("bad query: %v", err)
	}
	for name, vals := range q {
		if len(vals) != 1 {
			return bad("parameter %q given %d times", name, len(vals))
		}
		v := vals[0]
		switch name {
		case "secure":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return bad("secure=%q: want true or false", v)
			}
			c.Secure = b
		case "prefix":
			if pathPrefix != "" {
				return bad("prefix given both in the path (%q) and as ?prefix=%q", pathPrefix, v)
			}
			c.Prefix = v
		case "region":
			c.Region = v
		case "part_size_mb":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return bad("part_size_mb=%q: want a positive integer", v)
			}
			c.PartSize = n << 20
		case "max_retries":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return bad("max_retries=%q: want a positive integer", v)
			}
			c.MaxRetries = n
		default:
			return bad("unknown parameter %q (known: secure, prefix, region, part_size_mb, max_retries)", name)
		}
	}
	if err := c.Validate(); err != nil {
		return bad("%v", err)
	}
	return Config{Backend: BackendMinIO, MinIO: c}, nil
}

// redactErr strips the URL (which may hold a secret) from url.Parse errors.
func redactErr(err error, raw string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("cannot parse %q: %w", redactRaw(raw), ue.Err)
	}
	return err
}

// redactRaw hides a password in a URL that url.Parse rejected.
func redactRaw(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return raw
	}
	if user, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return raw
}

// New opens the configured backend: fs.New, or minio.Open (which creates
// the bucket if missing). logger may be nil.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (storage.Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch cfg.Backend {
	case BackendFS:
		return fs.New(cfg.FS, logger)
	case BackendMinIO:
		return minio.Open(ctx, cfg.MinIO, logger)
	}
	return nil, fmt.Errorf("storage: backend %q has no constructor", cfg.Backend)
}

// Open parses rawURL, taking missing credentials from the process
// environment, and opens the store.
func Open(ctx context.Context, rawURL string, logger *slog.Logger) (storage.Store, error) {
	cfg, err := Parse(rawURL, os.Getenv)
	if err != nil {
		return nil, err
	}
	return New(ctx, cfg, logger)
}

package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is everything `huren serve` needs. The zero value plus Defaults()
// is the embedded default: filesystem storage and in-process state under
// DataDir, listening on localhost.
type Config struct {
	// Listen is the HTTP address (host:port).
	Listen string `json:"listen"`
	// DataDir holds the embedded default's objects (and temp files).
	DataDir string `json:"data_dir"`
	// Storage selects the object store: "" → filesystem under DataDir/objects;
	// a path or file:///path → filesystem there; minio://KEY:SECRET@host:port/bucket?secure=false → MinIO.
	Storage string `json:"storage"`
	// Redis selects the state backend: "" → in-process; redis://[:password@]host:port/db → Redis.
	Redis string `json:"redis"`
	// MemoryCatalog keeps the embedded default's catalog in memory only,
	// rebuilt from storage at every start (tests, throwaway hubs); by
	// default it persists in DataDir/catalog.bolt.
	MemoryCatalog bool `json:"memory_catalog,omitempty"`
	// PublicURL is how clients reach this hub (for RetrieveURL/BulkDataURI);
	// "" → derived from each request's Host.
	PublicURL string `json:"public_url"`
	// CORSOrigins lists origins allowed to call DICOMweb from a browser
	// ("*" allows any).
	CORSOrigins []string `json:"cors_origins"`
	// MaxUploadBytes caps one STOW/ECG request body.
	MaxUploadBytes int64 `json:"max_upload_bytes"`
	// RoutingRules is the worklist routing rules file ("" → built-in default rule).
	RoutingRules string `json:"routing_rules"`
	// QuietPeriod is how long a study must receive no new instance before its
	// reading task is created.
	QuietPeriod Duration `json:"quiet_period"`
	// ShutdownTimeout bounds graceful shutdown (in-flight uploads finish first).
	ShutdownTimeout Duration `json:"shutdown_timeout"`
	// StorageTimeout is how long any object-store call may go without
	// progress before it fails as unavailable (HTTP 503 + Retry-After): a
	// frozen MinIO must not hang uploads. Progress is counted when the
	// backend takes more content, so it must exceed the time to send one
	// multipart part (16 MiB) to the object store.
	StorageTimeout Duration `json:"storage_timeout"`
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout Duration `json:"idle_timeout"`
	// MinUploadRate is the slowest request body accepted, in bytes per
	// second averaged over UploadRateWindow; a slower one is cut off (408).
	// 0 disables the check.
	MinUploadRate int64 `json:"min_upload_rate"`
	// UploadRateWindow is the span over which MinUploadRate is measured,
	// so a short stall on a township line is not punished.
	UploadRateWindow Duration `json:"upload_rate_window"`
	// LogLevel: debug, info, warn, error. LogFormat: text or json.
	LogLevel  string `json:"log_level"`
	LogFormat string `json:"log_format"`
	// Demo creates a demo township site, one account per role and a device
	// token on first start, and prints their generated credentials.
	Demo bool `json:"demo"`
	// Node names this replica in audit segments and logs (default: hostname).
	Node string `json:"node"`
}

// Duration is a time.Duration that reads "30s" from JSON.
type Duration struct{ time.Duration }

// UnmarshalJSON accepts a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// Defaults returns the embedded default configuration.
func Defaults() Config {
	host, _ := os.Hostname()
	return Config{
		Listen:          "127.0.0.1:8080",
		DataDir:         "huren-data",
		MaxUploadBytes:  4 << 30,
		QuietPeriod:     Duration{30 * time.Second},
		ShutdownTimeout: Duration{60 * time.Second},
		StorageTimeout:  Duration{30 * time.Second},
		IdleTimeout:     Duration{2 * time.Minute},
		// 1 KiB/s over 30 s: a township line on a bad day is far faster;
		// a connection held open by a stalled or hostile client is not.
		MinUploadRate:    1024,
		UploadRateWindow: Duration{30 * time.Second},
		LogLevel:         "info",
		LogFormat:        "text",
		Node:             host,
	}
}

// LoadFile merges a JSON config file into c. Unknown keys are an error, so a
// typo never silently falls back to a default.
func (c *Config) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// LoadEnv merges HUREN_* environment variables (getenv is os.Getenv in
// production, a map in tests).
func (c *Config) LoadEnv(getenv func(string) string) error {
	str := func(key string, dst *string) {
		if v := getenv(key); v != "" {
			*dst = v
		}
	}
	str("HUREN_LISTEN", &c.Listen)
	str("HUREN_DATA", &c.DataDir)
	str("HUREN_STORAGE", &c.Storage)
	str("HUREN_REDIS", &c.Redis)
	str("HUREN_PUBLIC_URL", &c.PublicURL)
	str("HUREN_ROUTING_RULES", &c.RoutingRules)
	str("HUREN_LOG_LEVEL", &c.LogLevel)
	str("HUREN_LOG_FORMAT", &c.LogFormat)
	str("HUREN_NODE", &c.Node)
	if v := getenv("HUREN_DEMO"); v == "1" || v == "true" {
		c.Demo = true
	}
	if v := getenv("HUREN_CORS_ORIGINS"); v != "" {
		c.CORSOrigins = splitList(v)
	}
	if v := getenv("HUREN_MAX_UPLOAD_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("HUREN_MAX_UPLOAD_BYTES=%q: not a byte count", v)
		}
		c.MaxUploadBytes = n
	}
	if v := getenv("HUREN_MIN_UPLOAD_RATE"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("HUREN_MIN_UPLOAD_RATE=%q: not a byte count", v)
		}
		c.MinUploadRate = n
	}
	for key, dst := range map[string]*Duration{"HUREN_QUIET_PERIOD": &c.QuietPeriod, "HUREN_SHUTDOWN_TIMEOUT": &c.ShutdownTimeout,
		"HUREN_STORAGE_TIMEOUT": &c.StorageTimeout, "HUREN_IDLE_TIMEOUT": &c.IdleTimeout, "HUREN_UPLOAD_RATE_WINDOW": &c.UploadRateWindow} {
		if v := getenv(key); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s=%q: %w", key, v, err)
			}
			dst.Duration = d
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Validate reports every problem at once, each naming the setting.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen %q: want host:port, e.g. 127.0.0.1:8080", c.Listen))
	}
	if c.Storage == "" && c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: required when storage is the embedded filesystem"))
	}
	if c.MaxUploadBytes <= 0 {
		errs = append(errs, fmt.Errorf("max_upload_bytes %d: must be positive", c.MaxUploadBytes))
	}
	if c.QuietPeriod.Duration < 0 {
		errs = append(errs, errors.New("quiet_period: must not be negative"))
	}
	for name, d := range map[string]time.Duration{"storage_timeout": c.StorageTimeout.Duration, "idle_timeout": c.IdleTimeout.Duration,
		"upload_rate_window": c.UploadRateWindow.Duration} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", name))
		}
	}
	if c.MinUploadRate < 0 {
		errs = append(errs, errors.New("min_upload_rate: must not be negative"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log_format %q: want text or json", c.LogFormat))
	}
	if c.Redis != "" && !strings.HasPrefix(c.Redis, "redis://") && !strings.HasPrefix(c.Redis, "rediss://") {
		errs = append(errs, fmt.Errorf("redis %q: want redis://host:port[/db]", c.Redis))
	}
	return errors.Join(errs...)
}

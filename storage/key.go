package storage

import (
	"fmt"
	"strings"
)

// ValidateKey enforces the key rules shared by every backend: a clean,
// relative, slash-separated path with no empty, "." or ".." segments, no
// backslashes or control characters, at most 1024 bytes. Keys come from
// UIDs and ids the hub builds, but those may originate in uploaded files, so
// every backend checks them before touching the disk or the network.
func ValidateKey(key string) error {
	if key == "" || len(key) > 1024 {
		return fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	if strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("%w: %q", ErrInvalidKey, key)
		}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q", ErrInvalidKey, key)
		}
	}
	return nil
}

// ValidatePrefix checks a List prefix: empty (everything) or a string that
// would be a valid key prefix (it may end with "/").
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return ValidateKey(strings.TrimSuffix(prefix, "/") + "/x")
}

// Metadata limits: small enough for one S3 request header block and the fs
// object header; what Huren records there is a few short provenance fields.
const (
	maxMetadataKey   = 64
	maxMetadataBytes = 2048
)

// ValidateMetadata enforces the metadata rules shared by every backend:
// keys of 1–64 characters from [a-z0-9-] (S3 folds the case of user
// metadata keys, so only lowercase is portable), values of printable ASCII
// (an HTTP header must carry them unchanged), all keys and values together
// at most 2 KiB. Callers percent-encode anything else.
func ValidateMetadata(m map[string]string) error {
	total := 0
	for k, v := range m {
		if k == "" || len(k) > maxMetadataKey {
			return fmt.Errorf("%w: key %q must be 1–%d characters", ErrInvalidMetadata, k, maxMetadataKey)
		}
		for i := 0; i < len(k); i++ {
			if c := k[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("%w: key %q: only a-z, 0-9 and -", ErrInvalidMetadata, k)
			}
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x20 || c > 0x7e {
				return fmt.Errorf("%w: value of %q: only printable ASCII", ErrInvalidMetadata, k)
			}
		}
		total += len(k) + len(v)
	}
	if total > maxMetadataBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidMetadata, total, maxMetadataBytes)
	}
	return nil
}

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

package storage

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"studies/1.2.840.113619.2.55/series/1.2.3/instances/1.2.3.4.dcm", true},
		{"a/b/c", true},
		{"..a", true},
		{"a..", true},
		{"a/..b/c", true},
		{".hidden", true},
		{"带中文/名字", true},
		{"with space/and-dash_and.dot", true},
		{strings.Repeat("x", 1024), true},
		{strings.Repeat("x", 1025), false},
		{"", false},
		{"/", false},
		{"/abs", false},
		{"trailing/", false},
		{"a//b", false},
		{".", false},
		{"..", false},
		{"../x", false},
		{"a/../b", false},
		{"a/..", false},
		{"./a", false},
		{"a/./b", false},
		{`a\b`, false},
		{`..\..\windows`, false},
		{"nul\x00", false},
		{"tab\there", false},
		{"newline\n", false},
		{"del\x7f", false},
	}
	for _, tc := range tests {
		err := ValidateKey(tc.key)
		if tc.ok && err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", tc.key, err)
		}
		if !tc.ok && !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", tc.key, err)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"", true},
		{"a", true},
		{"a/", true},
		{"a/b.", true},
		{"studies/1.2.3/", true},
		{"/", false},
		{"/a", false},
		{"a//", false},
		{"../", false},
		{"a/../", false},
		{`a\`, false},
	}
	for _, tc := range tests {
		err := ValidatePrefix(tc.prefix)
		if tc.ok && err != nil {
			t.Errorf("ValidatePrefix(%q) = %v, want nil", tc.prefix, err)
		}
		if !tc.ok && !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidatePrefix(%q) = %v, want ErrInvalidKey", tc.prefix, err)
		}
	}
}

// FuzzValidateKey checks that every accepted key is safe to join under a
// directory or bucket: relative, no traversal, no backslash or control bytes.
func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"a", "a/b", "../x", "a/./b", `a\b`, "/x", "a//b", "x\x00", "1.2.840/3.dcm", "..a/b.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if ValidateKey(key) != nil {
			return
		}
		if key == "" || len(key) > 1024 || key[0] == '/' || key[len(key)-1] == '/' {
			t.Fatalf("accepted %q", key)
		}
		if strings.ContainsAny(key, "\\\x00") || strings.Contains(key, "//") {
			t.Fatalf("accepted %q", key)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("accepted traversal %q", key)
			}
		}
		for _, r := range key {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("accepted control character in %q", key)
			}
		}
	})
}

// Package shareddata locates the shared ECG test corpus (../shared/testdata
// next to the repository) for tests. Without it a test skips locally, but
// under scripts/test (HUREN_TEST_REQUIRE_BACKENDS=1) a missing corpus fails
// the test, so CI can never go green by skipping the real-data scoring.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Root is the shared testdata folder: $HUREN_SHARED_TESTDATA when set, else
// ../shared/testdata relative to the repository root.
func Root() string {
	if d := os.Getenv("HUREN_SHARED_TESTDATA"); d != "" {
		return d
	}
	// Tests run in their package directory: walk up to the module root.
	dir, err := os.Getwd()
	if err != nil {
		return filepath.Join("..", "shared", "testdata")
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "..", "shared", "testdata")
		}
		if filepath.Dir(d) == d {
			return filepath.Join(dir, "..", "shared", "testdata")
		}
	}
}

// Dir returns Root()/rel when it exists and holds at least one file
// matching pattern; otherwise it skips t, or fails it when
// HUREN_TEST_REQUIRE_BACKENDS=1.
func Dir(t testing.TB, rel, pattern string) string {
	t.Helper()
	d := filepath.Join(Root(), rel)
	m, _ := filepath.Glob(filepath.Join(d, pattern))
	if len(m) == 0 {
		if os.Getenv("HUREN_TEST_REQUIRE_BACKENDS") == "1" {
			t.Fatalf("shared test data %s (%s) missing but HUREN_TEST_REQUIRE_BACKENDS=1", d, pattern)
		}
		t.Skipf("shared test data %s (%s) not found; scripts/test requires it", d, pattern)
	}
	return d
}

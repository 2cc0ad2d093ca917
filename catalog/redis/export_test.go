package redis

import (
	"context"
	"strconv"
	"testing"

	"github.com/huren-health/huren/catalog"
)

// SetTuning overrides the search tuning for a test and returns a function
// restoring it.
func SetTuning(materialize, minC, maxC int) (restore func()) {
	m, a, b, w := materializeMax, minChunk, maxChunk, walkScan
	materializeMax, minChunk, maxChunk, walkScan = materialize, minC, maxC, max(maxC, 1)
	return func() { materializeMax, minChunk, maxChunk, walkScan = m, a, b, w }
}

// SetIntersectMax overrides the largest gathered intersection for a test
// and returns a function restoring it.
func SetIntersectMax(n int) (restore func()) {
	old := intersectMax
	intersectMax = n
	return func() { intersectMax = old }
}

// SetIndexWords turns the word index of later Puts off (imitating data
// indexed before it existed) or on, and returns a function restoring it.
func SetIndexWords(on bool) (restore func()) {
	old := indexWords
	indexWords = on
	return func() { indexWords = old }
}

// IndexesComplete reports whether every study of c is in the word index
// and the modality+site pair sets (what searches check before using them).
func IndexesComplete(ctx context.Context, t testing.TB, c catalog.Catalog) bool {
	t.Helper()
	rc := c.(*Catalog)
	pipe := rc.rdb.Pipeline()
	total := pipe.ZCard(ctx, rc.key("x", "date"))
	counts := pipe.HMGet(ctx, rc.key("x", "count"), "words", "pairs")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	n := strconv.FormatInt(total.Val(), 10)
	return counts.Val()[0] == n && counts.Val()[1] == n
}

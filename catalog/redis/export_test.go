package redis

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

package redis

// SetTuning overrides the search tuning for a test and returns a function
// restoring it.
func SetTuning(materialize, minC, maxC int) (restore func()) {
	m, a, b := materializeMax, minChunk, maxChunk
	materializeMax, minChunk, maxChunk = materialize, minC, maxC
	return func() { materializeMax, minChunk, maxChunk = m, a, b }
}

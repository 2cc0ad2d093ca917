package redis_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/catalog/catalogtest"
)

// Instances stored by a version without the key record ('k') are listed by
// InstanceKeys from their full record and shared parts, identically.
func TestInstanceKeysWithoutKeyRecord(t *testing.T) {
	ctx := context.Background()
	c, rdb, prefix := fixtureCatalog(t)
	recs := catalogtest.Fixture()
	study := recs[0].StudyUID
	want, err := catalog.InstanceKeys(ctx, c, study, "")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, "{"+prefix+"}:i:*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("instance keys: %v, %v", keys, err)
	}
	removed := int64(0)
	for _, k := range keys {
		n, err := rdb.HDel(ctx, k, "k").Result()
		if err != nil {
			t.Fatal(err)
		}
		removed += n
	}
	if removed != int64(len(keys)) {
		t.Fatalf("removed %d key records from %d instances: Put did not write them", removed, len(keys))
	}
	got, err := catalog.InstanceKeys(ctx, c, study, "")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("InstanceKeys without key records differs (-with +without):\n%s", d)
	}
}

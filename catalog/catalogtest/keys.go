package catalogtest

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/huren-health/huren/catalog"
)

// catalog.InstanceKeys lists exactly what Instances lists, in the same
// order, with only the key attributes, and fails the same way.
func testInstanceKeys(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	seen := map[[2]string]bool{}
	for _, r := range Fixture() {
		for _, series := range []string{"", r.SeriesUID} {
			k := [2]string{r.StudyUID, series}
			if seen[k] {
				continue
			}
			seen[k] = true
			full, err := c.Instances(ctx, r.StudyUID, series)
			if err != nil {
				t.Fatal(err)
			}
			keys, err := catalog.InstanceKeys(ctx, c, r.StudyUID, series)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]catalog.Record, len(full))
			for i, f := range full {
				f.Attrs = catalog.KeyAttrs(f.Attrs)
				want[i] = f
			}
			if d := cmp.Diff(want, keys); d != "" {
				t.Errorf("InstanceKeys(%s, %q) differs from Instances with key attributes (-want +got):\n%s", r.StudyUID, series, d)
			}
		}
	}
	if _, err := catalog.InstanceKeys(ctx, c, "1.2.999", ""); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("InstanceKeys of a missing study: err = %v, want ErrNotFound", err)
	}
	if _, err := catalog.InstanceKeys(ctx, c, Fixture()[0].StudyUID, "1.2.999"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("InstanceKeys of a missing series: err = %v, want ErrNotFound", err)
	}
}

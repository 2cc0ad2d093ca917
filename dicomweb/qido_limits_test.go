package dicomweb_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomjson"
	"github.com/huren-health/huren/dicomweb"
)

// QIDO answers at most MaxResults results, warns when more can be paged
// with offset, and refuses offsets beyond MaxOffset: a limit of 10,000 with
// includefield=all built answers of 123 MB each.
func TestQIDOLimitAndPaging(t *testing.T) {
	e := newEnv(t, memoryBackends, 0)
	ctx := context.Background()
	total := dicomweb.MaxResults + 2
	for i := range total {
		a := dicomjson.Dataset{}
		a.Set("00080060", "CS", "CT")
		a.Set("00200013", "IS", int64(i+1))
		rec := catalog.Record{StudyUID: "1.2.840.99.1", SeriesUID: "1.2.840.99.1.1", InstanceUID: fmt.Sprintf("1.2.840.99.1.1.%d", i+1), Attrs: a}
		if err := e.cat.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		query string
		code  int
		n     int
		warn  bool
	}{
		{"limit=10000&includefield=all", http.StatusOK, dicomweb.MaxResults, true},
		{"", http.StatusOK, dicomweb.MaxResults, true},
		{"limit=5", http.StatusOK, 5, true},
		{fmt.Sprintf("offset=%d", dicomweb.MaxResults), http.StatusOK, 2, false},
		{fmt.Sprintf("offset=%d&limit=2", total-2), http.StatusOK, 2, false},
		{fmt.Sprintf("offset=%d", dicomweb.MaxOffset+1), http.StatusBadRequest, 0, false},
	} {
		rec := e.do("GET", "/dicom-web/instances?"+tc.query, map[string]string{"Accept": "application/dicom+json"}, nil)
		if rec.Code != tc.code {
			t.Errorf("%s: status %d, want %d: %.200s", tc.query, rec.Code, tc.code, rec.Body.String())
			continue
		}
		if tc.code != http.StatusOK {
			continue
		}
		var res []map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		warn := strings.Contains(rec.Header().Get("Warning"), "additional results")
		if len(res) != tc.n || warn != tc.warn {
			t.Errorf("%s: %d results, warning %v; want %d, %v", tc.query, len(res), warn, tc.n, tc.warn)
		}
	}
}

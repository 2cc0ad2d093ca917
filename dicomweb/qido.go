package dicomweb

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomjson"
	"github.com/huren-health/huren/ingest"
)

const (
	tagStudyUID    = "0020000D"
	tagSeriesUID   = "0020000E"
	tagInstanceUID = "00080018"
)

func (h *Handler) searchStudies(c *gin.Context) (any, error) {
	return nil, h.search(c, catalog.StudyLevel)
}

func (h *Handler) searchSeries(c *gin.Context) (any, error) {
	return nil, h.search(c, catalog.SeriesLevel)
}

func (h *Handler) searchInstances(c *gin.Context) (any, error) {
	return nil, h.search(c, catalog.InstanceLevel)
}

// search answers a QIDO-RS request. No match is 200 with an empty array:
// PS3.18 8.3.4.4.1 used to say 204, which contradicts RFC 9110 for a
// response with a body; CP-2473 aligns QIDO with 200, and every client
// (OHIF, dicomweb-client) accepts it.
func (h *Handler) search(c *gin.Context, level catalog.Level) error {
	if err := negotiateJSON(c.Request.Header.Values("Accept")); err != nil {
		return err
	}
	q, err := catalog.ParseQuery(level, c.Request.URL.Query())
	if err != nil {
		return err
	}
	if s := c.Param("study"); s != "" {
		if err := validParam("study", s); err != nil {
			return err
		}
		q.StudyUID = s
	}
	if s := c.Param("series"); s != "" {
		if err := validParam("series", s); err != nil {
			return err
		}
		q.SeriesUID = s
	}
	sites, err := h.scope(c)
	if err != nil {
		return err
	}
	if sites != nil {
		q.Sites = sites
	}
	results, err := h.cfg.Catalog.Search(c.Request.Context(), q)
	if err != nil {
		return fmt.Errorf("qido search: %w", err)
	}
	base := h.base(c)
	for _, ds := range results {
		addRetrieveURL(ds, level, base)
	}
	if results == nil {
		results = []dicomjson.Dataset{}
	}
	b, err := json.Marshal(results)
	if err != nil {
		return fmt.Errorf("encode qido results: %w", err)
	}
	h.metrics.qido.WithLabelValues(levelName(level)).Inc()
	c.Data(http.StatusOK, mtDICOMJSON, b)
	return nil
}

func levelName(l catalog.Level) string {
	switch l {
	case catalog.StudyLevel:
		return "study"
	case catalog.SeriesLevel:
		return "series"
	}
	return "instance"
}

// addRetrieveURL sets (0008,1190) Retrieve URL, which PS3.18 requires in
// every QIDO result, unless the catalog already did.
func addRetrieveURL(ds dicomjson.Dataset, level catalog.Level, base string) {
	if _, ok := ds[tagRetrieveURL]; ok {
		return
	}
	study, series, inst := ds.String(tagStudyUID), ds.String(tagSeriesUID), ds.String(tagInstanceUID)
	var u string
	switch level {
	case catalog.StudyLevel:
		u = base + "/studies/" + study
	case catalog.SeriesLevel:
		u = base + "/studies/" + study + "/series/" + series
	default:
		u = ingest.InstanceURL(base, study, series, inst)
	}
	if study == "" {
		return
	}
	ds.Set(tagRetrieveURL, "UR", u)
}

package dicomweb

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomjson"
	"github.com/huren-health/huren/ingest"
)

// QIDO bounds. A search answers at most MaxResults results (a larger or
// absent limit is reduced to it) and says so with a Warning header when
// more can be requested with offset; offset is at most MaxOffset, because
// skipping costs as much as answering — a client that needs to go deeper
// narrows the query instead (a StudyDate range, a patient, a modality).
const (
	MaxResults = 1000
	MaxOffset  = 10000
)

// warnMore is the PS3.18 8.3.4.4.1 warning for a truncated answer.
const warnMore = `299 huren "There are additional results that can be requested"`

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
	if q.Offset > MaxOffset {
		return fmt.Errorf("offset %d: at most %d; narrow the query instead (e.g. a StudyDate range): %w", q.Offset, MaxOffset, catalog.ErrInvalidQuery)
	}
	limit := q.Limit
	if limit <= 0 || limit > MaxResults {
		limit = MaxResults
	}
	q.Limit = limit + 1 // one more tells whether to warn of more results
	results, err := h.cfg.Catalog.Search(c.Request.Context(), q)
	if err != nil {
		return fmt.Errorf("qido search: %w", err)
	}
	if len(results) > limit {
		results = results[:limit]
		c.Header("Warning", warnMore)
	}
	h.metrics.qido.WithLabelValues(levelName(level)).Inc()
	h.writeResults(c, results, level)
	return nil
}

// writeResults streams the answer one result at a time, so the encoded
// answer is never held whole next to the results (a thousand instances
// with includefield=all are tens of MB).
func (h *Handler) writeResults(c *gin.Context, results []dicomjson.Dataset, level catalog.Level) {
	base := h.base(c)
	c.Header("Content-Type", mtDICOMJSON)
	c.Status(http.StatusOK)
	w := bufio.NewWriterSize(c.Writer, 64<<10)
	w.WriteByte('[')
	for i, ds := range results {
		addRetrieveURL(ds, level, base)
		b, err := json.Marshal(ds)
		if err != nil {
			// The status is sent; cut the answer short so the client sees
			// invalid JSON rather than a silently incomplete list.
			h.log.Error("qido: encoding a result failed; answer truncated", "err", err)
			w.Flush()
			return
		}
		if i > 0 {
			w.WriteByte(',')
		}
		w.Write(b)
		results[i] = nil // let the encoded result's dataset go
	}
	w.WriteByte(']')
	if err := w.Flush(); err != nil {
		h.log.Debug("qido: client went away", "err", err)
	}
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

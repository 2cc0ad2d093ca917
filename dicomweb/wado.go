package dicomweb

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"sort"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/ingest"
	"github.com/huren-health/huren/storage"
)

// retrieve streams a study, series or instance as
// multipart/related; type="application/dicom", each part the original bytes
// exactly as received (so their sha256 matches what was sent), labelled
// with its transfer syntax.
func (h *Handler) retrieve(c *gin.Context) (any, error) {
	recs, err := h.records(c)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var syntaxes []string
	for _, r := range recs {
		if !seen[r.TransferSyntax] {
			seen[r.TransferSyntax] = true
			syntaxes = append(syntaxes, r.TransferSyntax)
		}
	}
	sort.Strings(syntaxes)
	if err := negotiateInstances(c.Request.Header.Values("Accept"), syntaxes); err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	// Open the first object before committing to 200, so that a storage
	// outage is a 503 rather than a broken stream.
	first, info, err := h.cfg.Store.Get(ctx, recs[0].ObjectKey)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", recs[0].ObjectKey, err)
	}
	mw := multipart.NewWriter(c.Writer)
	c.Header("Content-Type", `multipart/related; type="application/dicom"; boundary=`+mw.Boundary())
	c.Status(http.StatusOK)
	h.metrics.retrieved.WithLabelValues("instances").Inc()
	for i, r := range recs {
		rc := first
		if i > 0 {
			rc, info, err = h.cfg.Store.Get(ctx, r.ObjectKey)
			if err != nil {
				h.abort(c, fmt.Errorf("open %s: %w", r.ObjectKey, err))
			}
		}
		hdr := textproto.MIMEHeader{}
		hdr.Set("Content-Type", mtDICOM+"; transfer-syntax="+r.TransferSyntax)
		hdr.Set("Content-Length", strconv.FormatInt(info.Size, 10))
		hdr.Set("Content-Location", ingest.InstanceURL(h.base(c), r.StudyUID, r.SeriesUID, r.InstanceUID))
		pw, err := mw.CreatePart(hdr)
		if err == nil {
			var n int64
			n, err = io.Copy(pw, rc)
			h.metrics.retrieveBytes.Add(float64(n))
		}
		rc.Close()
		if err != nil {
			h.abort(c, fmt.Errorf("stream %s: %w", r.ObjectKey, err))
		}
	}
	if err := mw.Close(); err != nil {
		h.abort(c, err)
	}
	return nil, nil
}

// abort ends a response that has already started: the connection is
// dropped so the client cannot mistake a partial answer for a whole one.
func (h *Handler) abort(c *gin.Context, err error) {
	if c.Request.Context().Err() == nil {
		h.log.Error("retrieve aborted mid-stream", "path", c.Request.URL.Path, "err", err)
	}
	panic(http.ErrAbortHandler)
}

// metadata answers study/series/instance metadata as one DICOM JSON array.
// A series whose precomputed bundle is current costs one storage read.
func (h *Handler) metadata(c *gin.Context) (any, error) {
	if err := negotiateJSON(c.Request.Header.Values("Accept")); err != nil {
		return nil, err
	}
	recs, err := h.records(c)
	if err != nil {
		return nil, err
	}
	h.metrics.retrieved.WithLabelValues("metadata").Inc()
	lw := &lazyWriter{c: c, status: http.StatusOK, contentType: mtDICOMJSON}
	if err := h.cfg.Ingest.WriteMetadata(c.Request.Context(), lw, recs, h.base(c)); err != nil {
		return nil, lw.fail(fmt.Errorf("metadata: %w", err), h.log)
	}
	if err := lw.finish(); err != nil {
		return nil, lw.fail(err, h.log)
	}
	return nil, nil
}

// bulk serves one bulk data element by a range read of the stored original.
// The default answer is PS3.18's multipart/related;
// type="application/octet-stream"; Accept: application/octet-stream gets the
// bare bytes.
func (h *Handler) bulk(c *gin.Context) (any, error) {
	multi, err := negotiateBulk(c.Request.Header.Values("Accept"))
	if err != nil {
		return nil, err
	}
	recs, err := h.records(c)
	if err != nil {
		return nil, err
	}
	r := recs[0]
	ctx := c.Request.Context()
	m, err := h.cfg.Ingest.InstanceMeta(ctx, r)
	if err != nil {
		return nil, err
	}
	tagPath := c.Param("tagpath")
	ref, ok := m.FindBulk(tagPath)
	if !ok {
		return nil, fmt.Errorf("%w: no bulk data element %s in instance %s", ErrNotFound, tagPath, r.InstanceUID)
	}
	if m.Deflated {
		return nil, fmt.Errorf("%w: instance %s is stored deflated; its bulk data cannot be served by range (retrieve the instance)", ErrNotAcceptable, r.InstanceUID)
	}
	var rc io.ReadCloser
	if ref.Length == 0 {
		rc = io.NopCloser(http.NoBody)
	} else {
		rc, err = h.cfg.Store.GetRange(ctx, r.ObjectKey, ref.Offset, ref.Length)
		if errors.Is(err, storage.ErrInvalidRange) {
			return nil, fmt.Errorf("bulk %s of %s: recorded range outside the stored object: %w", tagPath, r.InstanceUID, err)
		}
		if err != nil {
			return nil, fmt.Errorf("bulk %s of %s: %w", tagPath, r.InstanceUID, err)
		}
	}
	defer rc.Close()
	h.metrics.retrieved.WithLabelValues("bulk").Inc()
	if !multi {
		c.Header("Content-Type", mtOctetStream)
		c.Header("Content-Length", strconv.FormatInt(ref.Length, 10))
		c.Status(http.StatusOK)
		if _, err := io.Copy(c.Writer, rc); err != nil {
			h.abort(c, err)
		}
		return nil, nil
	}
	mw := multipart.NewWriter(c.Writer)
	c.Header("Content-Type", `multipart/related; type="application/octet-stream"; boundary=`+mw.Boundary())
	c.Status(http.StatusOK)
	hdr := textproto.MIMEHeader{}
	hdr.Set("Content-Type", mtOctetStream)
	hdr.Set("Content-Length", strconv.FormatInt(ref.Length, 10))
	pw, err := mw.CreatePart(hdr)
	if err == nil {
		_, err = io.Copy(pw, rc)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		h.abort(c, err)
	}
	return nil, nil
}

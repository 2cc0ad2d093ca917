package dicomweb

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomjson"
	"github.com/huren-health/huren/errkind"
	"github.com/huren-health/huren/ingest"
)

// STOW-RS response attributes (PS3.18 10.5.3, Store Instances Response Module).
const (
	tagRetrieveURL        = "00081190"
	tagFailedSOPSeq       = "00081198"
	tagReferencedSOPSeq   = "00081199"
	tagReferencedClassUID = "00081150"
	tagReferencedInstUID  = "00081155"
	tagFailureReason      = "00081197"
	tagWarningReason      = "00081196"
	tagErrorComment       = "00000902"
	tagSpecificCharset    = "00080005"
)

// ErrEmptyBody: a STOW request without any part.
var ErrEmptyBody = errkind.New(errkind.Invalid, "dicomweb: no DICOM instance in the request body")

// stowItem is the outcome of one part.
type stowItem struct {
	res  ingest.Result
	err  error
	part int // 1-based part number, for the error comment
}

// stow handles POST /studies and /studies/{study}.
//
// Accepted bodies: multipart/related; type="application/dicom" (PS3.18),
// read part by part as it streams in — each part is stored (and durable)
// before the next is read — and, as a convenience for curl users, a single
// application/dicom body. Parts must say Content-Type: application/dicom;
// any other part fails on its own (C000) while the rest are stored.
func (h *Handler) stow(c *gin.Context) (any, error) {
	study := c.Param("study")
	if study != "" {
		if err := validParam("study", study); err != nil {
			return nil, err
		}
	}
	if err := negotiateJSON(c.Request.Header.Values("Accept")); err != nil {
		return nil, err
	}
	site := ""
	if h.cfg.UploadSite != nil {
		s, err := h.cfg.UploadSite(c)
		if err != nil {
			return nil, err
		}
		site = s
	}
	if study != "" && h.cfg.UploadSite != nil {
		// Adding instances to an existing study is allowed only to the
		// site that created it; another site's study answers exactly like
		// a missing one, so UIDs cannot be probed this way. Plain POST
		// /studies is guarded by ingest itself, which refuses every
		// instance naming another site's study or series.
		if err := h.checkStudyOwner(c, study, site); err != nil {
			return nil, err
		}
	}
	ct := c.GetHeader("Content-Type")
	// Lenient parse: clients commonly send type=application/dicom
	// unquoted, which mime.ParseMediaType rejects.
	mt, params, ok := parseMediaRange(ct)
	if !ok {
		return nil, fmt.Errorf("%w: Content-Type %q: want multipart/related; type=\"application/dicom\"", ErrUnsupportedMedia, ct)
	}
	if c.Request.ContentLength > h.cfg.MaxBodyBytes {
		return nil, fmt.Errorf("%w: request body of %d bytes exceeds the limit of %d", errTooLarge, c.Request.ContentLength, h.cfg.MaxBodyBytes)
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, h.cfg.MaxBodyBytes)
	src := ingest.Source{Site: site, Via: "stow", RemoteAddr: c.ClientIP(), Study: study}
	ctx := c.Request.Context()

	var items []stowItem
	switch mt {
	case mtDICOM:
		res, err := h.cfg.Ingest.Ingest(ctx, body, c.Request.ContentLength, src)
		if isBodyError(err) {
			return nil, bodyError(err)
		}
		if errors.Is(err, ingest.ErrStoppedReading) {
			c.Header("Connection", "close") // do not read the rest to reuse the connection
		}
		items = append(items, stowItem{res: res, err: err, part: 1})
	case mtMultipart:
		if t := strings.ToLower(params["type"]); t != "" && t != mtDICOM {
			return nil, fmt.Errorf("%w: multipart/related of type %q: Huren accepts application/dicom parts only (no metadata+bulk STOW)", ErrUnsupportedMedia, params["type"])
		}
		boundary := params["boundary"]
		if boundary == "" {
			return nil, fmt.Errorf("%w: multipart/related without a boundary parameter", ErrBadRequest)
		}
		// mime/multipart reads through a 4 KiB buffer: straight from the
		// connection that is a read(2) per 4 KiB, 128 per CT slice. A
		// large buffer in between turns them into a few large reads.
		br := bodyBufPool.Get().(*bufio.Reader)
		br.Reset(body)
		defer func() { br.Reset(nil); bodyBufPool.Put(br) }()
		err := readParts(br, boundary, func(p *multipart.Part) error {
			item := h.stowPart(c, p, src)
			item.part = len(items) + 1
			items = append(items, item)
			if isBodyError(item.err) {
				return item.err
			}
			if errors.Is(item.err, ingest.ErrStoppedReading) {
				return errStopBody
			}
			return nil
		})
		if errors.Is(err, errStopBody) {
			// A part that is not DICOM at all may be gigabytes of garbage:
			// answer now, unread, and close the connection (the unread
			// rest cannot be skipped on a keep-alive connection).
			c.Header("Connection", "close")
		} else if err != nil {
			return nil, bodyError(err)
		}
	default:
		return nil, fmt.Errorf("%w: Content-Type %q: want multipart/related; type=\"application/dicom\" (or a single application/dicom body)", ErrUnsupportedMedia, mt)
	}
	return nil, h.stowRespond(c, study, items)
}

// stowPart ingests one part.
func (h *Handler) stowPart(c *gin.Context, p *multipart.Part, src ingest.Source) stowItem {
	pct := p.Header.Get("Content-Type")
	if pct == "" {
		return stowItem{err: fmt.Errorf("%w: a part has no Content-Type header; every part must be Content-Type: application/dicom", errPartType)}
	}
	pmt, _, ok := parseMediaRange(pct)
	if !ok || pmt != mtDICOM {
		return stowItem{err: fmt.Errorf("%w: a part has Content-Type %q; every part must be application/dicom", errPartType, pct)}
	}
	size := int64(-1)
	if cl := p.Header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			size = n
		}
	}
	res, err := h.cfg.Ingest.Ingest(c.Request.Context(), p, size, src)
	return stowItem{res: res, err: err}
}

// bodyBufPool holds the read buffers of STOW request bodies.
var bodyBufPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 256<<10) }}

var (
	// errStopBody ends a multipart walk at a part known to be invalid from
	// its first bytes, leaving the rest of the body unread.
	errStopBody = errors.New("dicomweb: stop reading the body")
	errPartType = errkind.New(errkind.Invalid, "dicomweb: part is not application/dicom")
	errTooLarge = errkind.New(errkind.TooLarge, "dicomweb: request body too large")
)

// readParts calls fn for each part of a multipart body, in order, streaming.
// A body without any part, with a boundary that never occurs, or with broken
// multipart syntax is ErrBadRequest. Part headers are bounded by
// mime/multipart (10 MiB total, 10000 headers); part bodies are bounded by
// ingest's MaxInstanceBytes and the request body limit.
func readParts(body io.Reader, boundary string, fn func(*multipart.Part) error) error {
	mr := multipart.NewReader(body, boundary)
	n := 0
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			if n == 0 {
				return fmt.Errorf("%w: the body holds no part delimited by boundary %q", ErrEmptyBody, boundary)
			}
			return nil
		}
		if err != nil {
			if isBodyError(err) {
				return err
			}
			if n == 0 {
				return fmt.Errorf("%w: multipart body does not start with boundary %q (or is malformed): %v", ErrBadRequest, boundary, err)
			}
			return fmt.Errorf("%w: multipart body malformed after part %d: %v", ErrBadRequest, n, err)
		}
		n++
		err = fn(p)
		if errors.Is(err, errStopBody) {
			return err // without Close, which would read the part to its end
		}
		p.Close()
		if err != nil {
			return err
		}
	}
}

// isBodyError reports a failure to read the request body itself (limit
// exceeded, client gone, body cut in the middle of a part): the request
// cannot go on, and the partial instance was not stored.
func isBodyError(err error) bool {
	if err == nil {
		return false
	}
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe) || ingest.IsReadError(err)
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: request body exceeds the limit of %d bytes", errTooLarge, mbe.Limit)
	}
	if ingest.IsReadError(err) {
		return fmt.Errorf("%w: the request body could not be read to the end of a part (%v); instances acknowledged before it are stored, the interrupted one is not", ErrBadRequest, err)
	}
	return err
}

// stowRespond writes the Store Instances Response: 200 when every instance
// was stored, 202 when some failed, 409 when none was stored (PS3.18
// 10.5.3.3) — or 503 + Retry-After when nothing was stored because a backend
// is down, so clients retry instead of giving up.
func (h *Handler) stowRespond(c *gin.Context, study string, items []stowItem) error {
	base := h.base(c)
	resp := dicomjson.Dataset{}
	var refs, fails []any
	studies := map[string]bool{}
	unavailable := 0
	for _, it := range items {
		r := it.res
		if it.err == nil {
			item := dicomjson.Dataset{}
			item.Set(tagReferencedClassUID, "UI", r.SOPClassUID)
			item.Set(tagReferencedInstUID, "UI", r.SOPInstanceUID)
			item.Set(tagRetrieveURL, "UR", ingest.InstanceURL(base, r.StudyUID, r.SeriesUID, r.SOPInstanceUID))
			refs = append(refs, item)
			studies[r.StudyUID] = true
			h.metrics.stowInstances.WithLabelValues("stored").Inc()
			continue
		}
		h.metrics.stowInstances.WithLabelValues("failed").Inc()
		if errkind.Of(it.err) == errkind.Unavailable {
			unavailable++
		}
		item := dicomjson.Dataset{}
		item[tagReferencedClassUID] = uidElem(r.SOPClassUID)
		item[tagReferencedInstUID] = uidElem(r.SOPInstanceUID)
		reason := ingest.Reason(it.err)
		if errors.Is(it.err, errPartType) {
			reason = ingest.ReasonCannotUnderstand
		}
		item.Set(tagFailureReason, "US", int64(reason))
		item.Set(tagErrorComment, "LO", clip(fmt.Sprintf("part %d: %s", it.part, publicMessage(it.err)), 1024))
		fails = append(fails, item)
	}
	if len(refs) > 0 {
		resp[tagReferencedSOPSeq] = &dicomjson.Element{VR: "SQ", Value: refs}
	}
	if len(fails) > 0 {
		resp[tagFailedSOPSeq] = &dicomjson.Element{VR: "SQ", Value: fails}
	}
	switch {
	case study != "":
		resp.Set(tagRetrieveURL, "UR", base+"/studies/"+study)
	case len(studies) == 1:
		for s := range studies {
			resp.Set(tagRetrieveURL, "UR", base+"/studies/"+s)
		}
	}
	status := http.StatusOK
	switch {
	case len(fails) == 0:
	case len(refs) > 0:
		status = http.StatusAccepted
	case unavailable > 0:
		status = http.StatusServiceUnavailable
	default:
		status = http.StatusConflict
	}
	if unavailable > 0 {
		c.Header("Retry-After", "5")
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return fmt.Errorf("encode STOW response: %w", err)
	}
	c.Data(status, mtDICOMJSON, b)
	return nil
}

func uidElem(v string) *dicomjson.Element {
	if v == "" {
		return &dicomjson.Element{VR: "UI"}
	}
	return &dicomjson.Element{VR: "UI", Value: []any{v}}
}

// publicMessage is the failure text shown to the uploader: the error chain
// for input problems, a generic text for internal ones.
func publicMessage(err error) string {
	switch errkind.Of(err) {
	case errkind.Other:
		return "internal processing failure"
	case errkind.Unavailable:
		return "storage or catalog unavailable; retry later"
	}
	return err.Error()
}

// clip bounds an Error Comment. Its VR is LO (64 characters) in DIMSE;
// DICOM JSON clients do not enforce that, and a useful message matters more.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// checkStudyOwner fails with catalog.ErrNotFound when study belongs to
// another site than site (ingest records the site that created each
// study); a study nobody owns yet may be created by the request.
func (h *Handler) checkStudyOwner(c *gin.Context, study, site string) error {
	owner, ok, err := h.cfg.Ingest.StudyOwner(c.Request.Context(), study)
	if err != nil {
		return fmt.Errorf("stow: look up study %s: %w", study, err)
	}
	if ok && owner != site {
		return fmt.Errorf("%w: study %s", catalog.ErrNotFound, study)
	}
	return nil
}

package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/pixels"
	"github.com/huren-health/huren/pixels/render"
)

type target struct {
	rec   catalog.Record
	frame int // 0 = the instance's default (1 for rendered, middle for thumbnail)
}

func isUnsupported(err error) bool {
	return errors.Is(err, pixels.ErrUnsupportedSyntax) || errors.Is(err, pixels.ErrCodecUnavailable)
}

// renderOne renders one frame of an instance (cached by content, frame and
// parameters).
func (h *Handler) renderOne(c *gin.Context, t target, p render.Params, thumb bool) ([]byte, error) {
	l, err := h.load(c.Request.Context(), t.rec)
	if err != nil {
		return nil, err
	}
	n := t.frame
	if n == 0 {
		n = 1
		if thumb {
			n = (l.img.Frames + 1) / 2
		}
	}
	if n > l.img.Frames {
		return nil, fmt.Errorf("frame %d of %d: %w", n, l.img.Frames, pixels.ErrFrameRange)
	}
	key := "r:" + contentKey(t.rec) + ":" + strconv.Itoa(n) + ":" + p.Key()
	v, err := h.cache.Do(key, func() (any, int64, error) {
		f, err := h.frame(l, n)
		if err != nil {
			return nil, 0, err
		}
		start := time.Now()
		im, err := render.Render(f, l.img.FrameDisplay(n), p)
		if err != nil {
			return nil, 0, err
		}
		var buf bytes.Buffer
		if err := render.Encode(&buf, im, p); err != nil {
			return nil, 0, fmt.Errorf("encode %s: %w", p.Format, err)
		}
		h.metrics.observe("render", start)
		return buf.Bytes(), int64(buf.Len()) + 256, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// targets resolves the URL to the instances/frames to render.
func (h *Handler) targets(c *gin.Context, thumb bool) ([]target, error) {
	if c.Param("instance") != "" {
		rec, err := h.record(c)
		if err != nil {
			return nil, err
		}
		if fs := c.Param("frames"); fs != "" {
			l, err := h.load(c.Request.Context(), rec)
			if err != nil {
				return nil, err
			}
			nums, err := parseFrames(fs, l.img.Frames)
			if err != nil {
				return nil, err
			}
			out := make([]target, len(nums))
			for i, n := range nums {
				out[i] = target{rec, n}
			}
			return out, nil
		}
		return []target{{rec: rec}}, nil
	}
	recs, err := h.records(c)
	if err != nil {
		return nil, err
	}
	if thumb {
		if c.Param("series") == "" { // study: the first series
			first := recs[0].SeriesUID
			n := 0
			for n < len(recs) && recs[n].SeriesUID == first {
				n++
			}
			recs = recs[:n]
		}
		// The middle instance, then its neighbours if it has no pixels.
		mid := len(recs) / 2
		var out []target
		for d := 0; d < len(recs) && len(out) < 8; d++ {
			for _, i := range []int{mid + d, mid - d - 1} {
				if i >= 0 && i < len(recs) {
					out = append(out, target{rec: recs[i]})
				}
			}
		}
		return out, nil
	}
	if len(recs) > h.cfg.MaxStudyRendered {
		return nil, fmt.Errorf("%d instances, rendered responses are capped at %d: %w", len(recs), h.cfg.MaxStudyRendered, ErrBadRequest)
	}
	out := make([]target, len(recs))
	for i, r := range recs {
		out[i] = target{rec: r}
	}
	return out, nil
}

// rendered serves /rendered at every level: one frame → a single image;
// several (frame lists, series, study) → multipart/related of images.
// Instances without pixel data are skipped at series/study level.
func (h *Handler) rendered(c *gin.Context) (any, error) {
	p, err := renderParams(c, false)
	if err != nil {
		return nil, err
	}
	ts, err := h.targets(c, false)
	if err != nil {
		return nil, err
	}
	if len(ts) == 1 {
		if notModified(c, etag(ts[0], p, "r")) {
			return nil, nil
		}
		b, err := h.renderOne(c, ts[0], p, false)
		if err != nil {
			return nil, err
		}
		c.Data(http.StatusOK, p.Format, b)
		h.metrics.rendered.Inc()
		return nil, nil
	}
	var bodies [][]byte
	instanceLevel := c.Param("instance") != ""
	for _, t := range ts {
		b, err := h.renderOne(c, t, p, false)
		if err != nil {
			if !instanceLevel && errors.Is(err, pixels.ErrNoPixelData) {
				continue
			}
			return nil, err
		}
		bodies = append(bodies, b)
	}
	if len(bodies) == 0 {
		return nil, fmt.Errorf("no renderable instances: %w", pixels.ErrNoPixelData)
	}
	writeMultipart(c, p.Format, p.Format, bodies)
	h.metrics.rendered.Add(float64(len(bodies)))
	return nil, nil
}

// thumbnail serves /thumbnail: one small image (default 128×128 viewport)
// of the instance's middle frame, the series' middle instance, or the
// study's first series.
func (h *Handler) thumbnail(c *gin.Context) (any, error) {
	p, err := renderParams(c, true)
	if err != nil {
		return nil, err
	}
	ts, err := h.targets(c, true)
	if err != nil {
		return nil, err
	}
	var first error
	for _, t := range ts[:min(len(ts), 8)] {
		b, err := h.renderOne(c, t, p, true)
		if err == nil {
			if notModified(c, etag(t, p, "t")) {
				return nil, nil
			}
			c.Data(http.StatusOK, p.Format, b)
			h.metrics.rendered.Inc()
			return nil, nil
		}
		if first == nil {
			first = err
		}
		if !errors.Is(err, pixels.ErrNoPixelData) {
			break
		}
	}
	return nil, first
}

// etag names a rendering by content, frame and parameters: the same tag
// always means the same bytes, so browsers on slow links revalidate with
// If-None-Match and get 304 instead of the image again.
func etag(t target, p render.Params, kind string) string {
	sum := sha256.Sum256([]byte(contentKey(t.rec) + "|" + strconv.Itoa(t.frame) + "|" + p.Key() + "|" + kind))
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// notModified sets ETag and Cache-Control, and answers 304 when the
// client already holds this representation. Responses are private: they
// depend on the caller's access scope.
func notModified(c *gin.Context, tag string) bool {
	c.Header("ETag", tag)
	c.Header("Cache-Control", "private, max-age=86400")
	for _, v := range strings.Split(c.GetHeader("If-None-Match"), ",") {
		if v = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), "W/")); v == tag || v == "*" {
			c.Status(http.StatusNotModified)
			c.Writer.WriteHeaderNow()
			return true
		}
	}
	return false
}

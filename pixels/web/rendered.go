package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
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
	frame := strconv.Itoa(max(t.frame, 1))
	if t.frame == 0 && thumb {
		frame = "middle"
	}
	key := "r:" + contentKey(t.rec) + ":" + frame + ":" + p.Key()
	v, err := h.cache.Do(key, func() (any, int64, error) {
		b, err := h.renderUncached(c.Request.Context(), t, p, thumb)
		if err != nil {
			return nil, 0, err
		}
		return b, int64(cap(b)) + 256, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// renderUncached renders from storage: streamed when the frame is native
// grey and the instance is not already parsed in the cache, else from the
// parsed instance and its decoded frame.
func (h *Handler) renderUncached(ctx context.Context, t target, p render.Params, thumb bool) ([]byte, error) {
	if !h.cache.Contains("i:" + contentKey(t.rec)) {
		b, err := h.renderStreamed(ctx, t, p, thumb)
		if !errors.Is(err, errNotStreamed) {
			return b, err
		}
	}
	l, err := h.load(ctx, t.rec)
	if err != nil {
		return nil, err
	}
	n := frameNumber(t, thumb, l.img.Frames)
	if n > l.img.Frames {
		return nil, fmt.Errorf("frame %d of %d: %w", n, l.img.Frames, pixels.ErrFrameRange)
	}
	f, err := h.frame(l, n)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	im, err := render.Render(f, l.img.FrameDisplay(n), p)
	if err != nil {
		return nil, err
	}
	b, err := encode(im, p)
	if err != nil {
		return nil, err
	}
	h.metrics.observe("render", start)
	return b, nil
}

// frameNumber is the 1-based frame a target renders: the one asked for,
// else the first (rendered) or the middle one (thumbnail).
func frameNumber(t target, thumb bool, frames int) int {
	switch {
	case t.frame > 0:
		return t.frame
	case thumb:
		return (frames + 1) / 2
	}
	return 1
}

func encode(im image.Image, p render.Params) ([]byte, error) {
	buf := outputBuffer(im.Bounds().Dx()*im.Bounds().Dy(), p)
	if err := render.Encode(buf, im, p); err != nil {
		return nil, fmt.Errorf("encode %s: %w", p.Format, err)
	}
	return buf.Bytes(), nil
}

// outputBuffer has room for a typical encoding of px source pixels (the
// viewport makes it an overestimate): growing by doubling would copy, and
// in a fresh process first touch, about twice the bytes.
func outputBuffer(px int, p render.Params) *bytes.Buffer {
	if p.Width > 0 || p.Height > 0 {
		px = min(px, max(p.Width, p.Height)*max(p.Width, p.Height))
	}
	if p.Format == "image/png" {
		return bytes.NewBuffer(make([]byte, 0, px/2+4096))
	}
	return bytes.NewBuffer(make([]byte, 0, px/8+4096))
}

// errNotStreamed: renderStreamed does not apply (compressed, colour, no
// window, a header it cannot read alone…); render from the parsed instance,
// which also gives the authoritative error for bad input.
var errNotStreamed = errors.New("pixels/web: frame not streamed")

const (
	// headerChunk is read first: the whole header of almost every file.
	headerChunk = 64 << 10
	// maxStreamHeader: a header longer than this (huge private sequences)
	// is parsed from the whole file instead.
	maxStreamHeader = 8 << 20
	// pixelChunk bounds the pixel bytes held at once while streaming.
	pixelChunk = 1 << 20
)

var (
	headerPool = sync.Pool{New: func() any { b := make([]byte, headerChunk); return &b }}
	pixelPool  = sync.Pool{New: func() any { b := make([]byte, pixelChunk); return &b }}
)

// renderStreamed renders a native grey frame while reading it: the header
// from the first bytes of the object, then the frame's rows in bounded
// chunks through render.GreyStream. Neither the file nor the decoded frame
// is ever held whole (a 2500×3000 radiograph is 15 MB of each, and in a
// fresh process every new megabyte is page faults), and nothing but the
// rendered image is cached. Returns errNotStreamed when it does not apply.
func (h *Handler) renderStreamed(ctx context.Context, t target, p render.Params, thumb bool) ([]byte, error) {
	start := time.Now()
	rc, info, err := h.cfg.Store.Get(ctx, t.rec.ObjectKey)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.rec.ObjectKey, err)
	}
	defer rc.Close()
	size := info.Size
	if size <= headerChunk || size > h.cfg.MaxObjectBytes {
		return nil, errNotStreamed // small: parsing it whole costs nothing
	}
	hp := headerPool.Get().(*[]byte)
	defer headerPool.Put(hp)
	prefix := (*hp)[:headerChunk]
	if _, err := io.ReadFull(rc, prefix); err != nil {
		return nil, errNotStreamed
	}
	hdr, err := pixels.ParseHeader(prefix, size, h.cfg.Limits)
	for errors.Is(err, pixels.ErrNeedMore) && len(prefix) < maxStreamHeader && int64(len(prefix)) < size {
		more := make([]byte, min(size, 2*int64(len(prefix))))
		copy(more, prefix)
		if _, err := io.ReadFull(rc, more[len(prefix):]); err != nil {
			return nil, errNotStreamed
		}
		prefix = more
		hdr, err = pixels.ParseHeader(prefix, size, h.cfg.Limits)
	}
	if err != nil {
		return nil, errNotStreamed
	}
	n := frameNumber(t, thumb, hdr.Frames)
	if n > hdr.Frames {
		return nil, fmt.Errorf("frame %d of %d: %w", n, hdr.Frames, pixels.ErrFrameRange)
	}
	gs, err := render.NewGreyStream(hdr.Info, hdr.FrameDisplay(n), p)
	if errors.Is(err, render.ErrNeedsFrame) {
		return nil, errNotStreamed
	}
	if err != nil {
		return nil, err
	}
	h.metrics.observe("parse", start)
	start = time.Now()
	off, length, err := hdr.NativeFrameRange(n)
	if err != nil {
		return nil, err
	}
	// Position a reader at the frame: the bytes after the header are
	// already in prefix and the rest follow in rc; a later frame of a
	// multi-frame object is opened as a range instead.
	var src io.Reader
	switch read := int64(len(prefix)); {
	case off < read:
		src = io.MultiReader(bytes.NewReader(prefix[off:min(read, off+length)]), rc)
	case off-read <= pixelChunk:
		if _, err := io.CopyN(io.Discard, rc, off-read); err != nil {
			return nil, readErr(t.rec.ObjectKey, err)
		}
		src = rc
	default:
		rr, err := h.cfg.Store.GetRange(ctx, t.rec.ObjectKey, off, length)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", t.rec.ObjectKey, err)
		}
		defer rr.Close()
		src = rr
	}
	pp := pixelPool.Get().(*[]byte)
	defer pixelPool.Put(pp)
	chunk := *pp
	if rb := gs.RowBytes(); rb > len(chunk) {
		chunk = make([]byte, rb)
	} else {
		chunk = chunk[:len(chunk)/rb*rb]
	}
	if gs.NeedsScan() {
		// The window is the frame's value range: read it once to find
		// the range, then again to render.
		if err := readChunks(src, length, chunk, gs.Scan); err != nil {
			return nil, readErr(t.rec.ObjectKey, err)
		}
		rr, err := h.cfg.Store.GetRange(ctx, t.rec.ObjectKey, off, length)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", t.rec.ObjectKey, err)
		}
		defer rr.Close()
		src = rr
	}
	if err := readChunks(src, length, chunk, gs.Write); err != nil {
		return nil, readErr(t.rec.ObjectKey, err)
	}
	buf := outputBuffer(hdr.Columns*hdr.Rows, p)
	if err := gs.Encode(buf); err != nil {
		return nil, fmt.Errorf("encode %s: %w", p.Format, err)
	}
	h.metrics.observe("render", start)
	return buf.Bytes(), nil
}

// readChunks reads length bytes from src in chunks of len(chunk) and hands
// each to fn.
func readChunks(src io.Reader, length int64, chunk []byte, fn func([]byte) error) error {
	for left := length; left > 0; {
		k := int(min(int64(len(chunk)), left))
		if _, err := io.ReadFull(src, chunk[:k]); err != nil {
			return err
		}
		if err := fn(chunk[:k]); err != nil {
			return err
		}
		left -= int64(k)
	}
	return nil
}

// readErr: an object that ends before the size storage reported is
// corrupt; the pipeline's own errors pass unchanged; anything else is the
// storage's error.
func readErr(key string, err error) error {
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("read %s: object shorter than its size: %w", key, pixels.ErrCorrupt)
	case errors.Is(err, pixels.ErrCorrupt) || errors.Is(err, render.ErrParams):
		return err
	}
	return fmt.Errorf("read %s: %w", key, err)
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

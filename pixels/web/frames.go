package web

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/pixels"
	"github.com/huren-health/huren/pixels/render"
)

// mediaTypeOf is the single-frame media type of an encapsulated syntax
// (PS3.18 table 8.7.3-2), used when a client asks for e.g. image/jls.
func mediaTypeOf(ts string) string {
	switch ts {
	case pixels.JPEGBaseline, pixels.JPEGExtended, pixels.JPEGLossless, pixels.JPEGLosslessSV1:
		return "image/jpeg"
	case pixels.JPEGLSLossless, pixels.JPEGLSNearLossless:
		return "image/jls"
	case pixels.JPEG2000Lossless, pixels.JPEG2000:
		return "image/jp2"
	case pixels.HTJ2KLossless, pixels.HTJ2KLosslessRPCL, pixels.HTJ2K:
		return "image/jphc"
	case pixels.RLELossless:
		return "image/x-dicom-rle"
	}
	return "application/octet-stream"
}

// framesChoice is the outcome of Accept negotiation for /frames.
type framesChoice struct {
	original  bool   // serve the stored bytes (codestream or native LE)
	mediaType string // part media type
}

// negotiateFrames picks the representation from the Accept header: the
// first acceptable media range wins. transfer-syntax=* or the stored
// syntax → original bytes; none or 1.2.840.10008.1.2.1 → decoded explicit
// VR little endian. Quotes around parameter values are accepted (OHIF
// sends them unquoted, dcmjs quoted).
func negotiateFrames(accept string, img *pixels.Image) (framesChoice, error) {
	native := !img.Encapsulated()
	decoded := framesChoice{original: native, mediaType: "application/octet-stream"}
	if strings.TrimSpace(accept) == "" {
		return decoded, nil
	}
	for _, rng := range strings.Split(accept, ",") {
		fields := strings.Split(rng, ";")
		mt := strings.ToLower(strings.TrimSpace(fields[0]))
		typ, ts := "application/octet-stream", ""
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
			v = strings.Trim(strings.TrimSpace(v), `"`)
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "type":
				typ = strings.ToLower(v)
			case "transfer-syntax":
				ts = v
			}
		}
		switch mt {
		case "*/*", "multipart/*":
			return decoded, nil
		case "application/octet-stream":
			typ, mt = mt, "multipart/related"
		}
		if mt != "multipart/related" {
			continue
		}
		switch typ {
		case "application/octet-stream", "*/*":
			switch {
			case ts == "*" || ts == img.TransferSyntax:
				if native {
					return decoded, nil
				}
				return framesChoice{original: true, mediaType: "application/octet-stream"}, nil
			case ts == "" || ts == pixels.ExplicitVRLittleEndian:
				return decoded, nil
			}
		default:
			if !native && typ == mediaTypeOf(img.TransferSyntax) && (ts == "" || ts == "*" || ts == img.TransferSyntax) {
				return framesChoice{original: true, mediaType: typ}, nil
			}
		}
	}
	return framesChoice{}, fmt.Errorf("frames of %s (%s) are available as transfer-syntax=%s or %s, not %q: %w",
		pixels.SyntaxName(img.TransferSyntax), img.TransferSyntax, img.TransferSyntax, pixels.ExplicitVRLittleEndian, accept, ErrNotAcceptable)
}

// frames serves WADO-RS /frames as multipart/related.
func (h *Handler) frames(c *gin.Context) (any, error) {
	rec, err := h.record(c)
	if err != nil {
		return nil, err
	}
	l, err := h.load(c.Request.Context(), rec)
	if err != nil {
		return nil, err
	}
	nums, err := parseFrames(c.Param("frames"), l.img.Frames)
	if err != nil {
		return nil, err
	}
	choice, err := negotiateFrames(c.GetHeader("Accept"), l.img)
	if err != nil {
		return nil, err
	}
	partTS := pixels.ExplicitVRLittleEndian
	if choice.original && l.img.Encapsulated() {
		partTS = l.img.TransferSyntax
	}
	bodies := make([][]byte, len(nums))
	for i, n := range nums {
		if choice.original {
			raw, err := l.img.RawFrame(n)
			if err != nil {
				return nil, err
			}
			if !l.img.Encapsulated() {
				raw = nativeLE(l.img, raw)
			}
			bodies[i] = raw
			continue
		}
		f, err := h.frame(l, n)
		if err != nil {
			if isUnsupported(err) {
				return nil, fmt.Errorf("cannot decode %s to %s: %v: %w", l.img.TransferSyntax, pixels.ExplicitVRLittleEndian, err, ErrNotAcceptable)
			}
			return nil, err
		}
		bodies[i] = decodedBytes(f, l.img)
	}
	partType := choice.mediaType + "; transfer-syntax=" + partTS
	// Frames are immutable for a given content hash; the tag covers the
	// list and the representation.
	if notModified(c, etag(target{rec: rec}, render.Params{}, "f:"+c.Param("frames")+":"+partType)) {
		return nil, nil
	}
	writeMultipart(c, choice.mediaType, partType, bodies)
	h.metrics.frames.Add(float64(len(nums)))
	return nil, nil
}

// nativeLE returns a native frame in little endian (big endian data is
// swapped into a copy).
func nativeLE(img *pixels.Image, raw []byte) []byte {
	if img.TransferSyntax != pixels.ExplicitVRBigEndian || img.BitsAllocated <= 8 {
		return raw
	}
	out := make([]byte, len(raw))
	w := img.BitsAllocated / 8
	for i := 0; i+w <= len(raw); i += w {
		for k := 0; k < w; k++ {
			out[i+k] = raw[i+w-1-k]
		}
	}
	return out
}

// decodedBytes lays a decoded frame out as native little endian Pixel Data
// (1-bit samples packed back into bits).
func decodedBytes(f *pixels.Frame, img *pixels.Image) []byte {
	if img.BitsAllocated != 1 {
		return f.Data
	}
	out := make([]byte, (len(f.Data)+7)/8)
	for i, v := range f.Data {
		if v != 0 {
			out[i/8] |= 1 << (i % 8)
		}
	}
	return out
}

func boundary() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "huren-" + hex.EncodeToString(b[:])
}

// writeMultipart writes bodies as multipart/related with exact part
// headers ("Content-Type: <partType>"), and a Content-Length.
func writeMultipart(c *gin.Context, typ, partType string, bodies [][]byte) {
	bnd := boundary()
	head := "--" + bnd + "\r\nContent-Type: " + partType + "\r\n\r\n"
	total := 0
	for _, b := range bodies {
		total += len(head) + len(b) + 2
	}
	tail := "--" + bnd + "--\r\n"
	total += len(tail)
	hdr := c.Writer.Header()
	hdr.Set("Content-Type", `multipart/related; type="`+typ+`"; boundary=`+bnd)
	hdr.Set("Content-Length", strconv.Itoa(total))
	c.Status(http.StatusOK)
	for _, b := range bodies {
		if _, err := c.Writer.WriteString(head); err != nil {
			return
		}
		if _, err := c.Writer.Write(b); err != nil {
			return
		}
		if _, err := c.Writer.WriteString("\r\n"); err != nil {
			return
		}
	}
	_, _ = c.Writer.WriteString(tail)
}

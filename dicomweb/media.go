package dicomweb

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/huren-health/huren/errkind"
)

// Errors of the HTTP layer. Status codes come from their kinds.
var (
	// ErrNotAcceptable: the Accept header asks only for representations
	// Huren cannot produce (e.g. XML, or a transfer syntax other than the
	// stored one — Huren never transcodes).
	ErrNotAcceptable = errkind.New(errkind.NotAcceptable, "dicomweb: not acceptable")
	// ErrUnsupportedMedia: a STOW body that is not multipart/related of
	// application/dicom parts (nor a single application/dicom body).
	ErrUnsupportedMedia = errkind.New(errkind.Unsupported, "dicomweb: unsupported media type")
	// ErrBadRequest: a malformed request (multipart syntax, boundary,
	// empty body, bad path parameter).
	ErrBadRequest = errkind.New(errkind.Invalid, "dicomweb: bad request")
	// ErrNotFound: no such study/series/instance/bulk element, or not
	// visible in the caller's scope (indistinguishable on purpose).
	ErrNotFound = errkind.New(errkind.NotFound, "dicomweb: not found")
)

// Media types Huren speaks.
const (
	mtDICOM       = "application/dicom"
	mtDICOMJSON   = "application/dicom+json"
	mtJSON        = "application/json"
	mtOctetStream = "application/octet-stream"
	mtMultipart   = "multipart/related"
)

// mediaRange is one entry of an Accept header.
type mediaRange struct {
	typ    string            // "multipart/related", "*/*", …, lowercase
	params map[string]string // lowercase keys; "q" removed
	q      float64
}

// splitAccept splits an Accept header on commas that are not inside a
// quoted string: `multipart/related; type="application/dicom"; transfer-syntax=*`
// may carry commas in quoted values.
func splitAccept(h string) []string { return splitQuoted(h, ',') }

// splitQuoted splits s on sep outside double-quoted strings.
func splitQuoted(h string, sep byte) []string {
	var out []string
	inQuote, esc := false, false
	start := 0
	for i := 0; i < len(h); i++ {
		ch := h[i]
		switch {
		case esc:
			esc = false
		case ch == '\\' && inQuote:
			esc = true
		case ch == '"':
			inQuote = !inQuote
		case ch == sep && !inQuote:
			out = append(out, h[start:i])
			start = i + 1
		}
	}
	return append(out, h[start:])
}

// parseMediaRange parses "type/sub; k=v; k2=\"v2\"" leniently: unlike
// mime.ParseMediaType it accepts unquoted parameter values containing "/"
// (type=application/dicom, as OHIF and others send them).
func parseMediaRange(s string) (string, map[string]string, bool) {
	fields := splitQuoted(s, ';')
	typ := strings.ToLower(strings.TrimSpace(fields[0]))
	if typ == "*" {
		typ = "*/*"
	}
	if i := strings.IndexByte(typ, '/'); i <= 0 || i == len(typ)-1 {
		return "", nil, false
	}
	params := map[string]string{}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = strings.ReplaceAll(v[1:len(v)-1], `\"`, `"`)
		}
		params[k] = v
	}
	return typ, params, true
}

// parseAccept parses every Accept header value into media ranges ordered by
// descending q (stable, so the client's order breaks ties). Unparseable
// entries are skipped, as RFC 9110 lets a server do; an empty result means
// "anything".
func parseAccept(values []string) []mediaRange {
	var out []mediaRange
	for _, v := range values {
		for _, part := range splitAccept(v) {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			typ, params, ok := parseMediaRange(part)
			if !ok {
				continue
			}
			q := 1.0
			if s, ok := params["q"]; ok {
				f, err := strconv.ParseFloat(s, 64)
				if err != nil || f < 0 || f > 1 {
					f = 1
				}
				q = f
				delete(params, "q")
			}
			out = append(out, mediaRange{typ: strings.ToLower(typ), params: params, q: q})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].q > out[j].q })
	return out
}

// matches reports whether the range covers media type t ("type/sub").
func (m mediaRange) matches(t string) bool {
	if m.typ == "*/*" || m.typ == t {
		return true
	}
	if strings.HasSuffix(m.typ, "/*") {
		return strings.HasPrefix(t, strings.TrimSuffix(m.typ, "*"))
	}
	return false
}

// negotiateJSON checks that the client accepts DICOM JSON (QIDO results,
// metadata, STOW responses). application/json and wildcards are accepted
// too, since many clients send them.
func negotiateJSON(accept []string) error {
	ranges := parseAccept(accept)
	if len(ranges) == 0 {
		return nil
	}
	for _, r := range ranges {
		if r.q == 0 {
			continue
		}
		if r.matches(mtDICOMJSON) || r.matches(mtJSON) {
			return nil
		}
		// multipart/related; type="application/dicom+json" is not a
		// standard QIDO form but is harmless to honour.
		if r.typ == mtMultipart && strings.EqualFold(r.params["type"], mtDICOMJSON) {
			return nil
		}
	}
	return fmt.Errorf("%w: this resource is available as %s only (Accept: %s)", ErrNotAcceptable, mtDICOMJSON, strings.Join(accept, ", "))
}

// negotiateInstances decides how to answer a WADO-RS study/series/instance
// retrieve. Huren returns instances in their stored transfer syntax only;
// stored lists the distinct syntaxes of the instances to be sent. It
// accepts: no Accept, */*, multipart/related with type application/dicom
// (or no type, whose default for this resource is application/dicom), with
// transfer-syntax absent, "*", or equal to every stored syntax. PS3.18 makes
// an absent transfer-syntax mean Explicit VR Little Endian; Huren answers
// with the stored syntax instead (labelled on every part), as Orthanc and
// dcm4chee do, because it never transcodes — documented in doc.go.
func negotiateInstances(accept []string, stored []string) error {
	ranges := parseAccept(accept)
	if len(ranges) == 0 {
		return nil
	}
	var demanded []string
	for _, r := range ranges {
		if r.q == 0 {
			continue
		}
		switch {
		case r.typ == "*/*" || r.typ == "multipart/*":
			return nil
		case r.typ == mtMultipart:
			t := strings.ToLower(r.params["type"])
			if t != "" && t != mtDICOM && t != "application/*" && t != "*/*" {
				continue
			}
			ts := r.params["transfer-syntax"]
			if ts == "" || ts == "*" {
				return nil
			}
			ok := true
			for _, s := range stored {
				if s != ts {
					ok = false
				}
			}
			if ok {
				return nil
			}
			demanded = append(demanded, ts)
		}
	}
	if len(demanded) > 0 {
		return fmt.Errorf("%w: transfer syntax %s requested, instances are stored as %s and Huren does not transcode (ask for transfer-syntax=*)",
			ErrNotAcceptable, strings.Join(demanded, ", "), strings.Join(stored, ", "))
	}
	return fmt.Errorf("%w: instances are available as multipart/related; type=\"application/dicom\" only (Accept: %s)", ErrNotAcceptable, strings.Join(accept, ", "))
}

// negotiateBulk decides between a multipart/related; type=application/octet-stream
// answer (PS3.18's form, the default) and a bare application/octet-stream body.
func negotiateBulk(accept []string) (multipart bool, err error) {
	ranges := parseAccept(accept)
	if len(ranges) == 0 {
		return true, nil
	}
	for _, r := range ranges {
		if r.q == 0 {
			continue
		}
		switch {
		case r.typ == "*/*" || r.typ == "multipart/*":
			return true, nil
		case r.typ == mtMultipart:
			t := strings.ToLower(r.params["type"])
			if t == "" || t == mtOctetStream || t == "application/*" || t == "*/*" {
				ts := r.params["transfer-syntax"]
				if ts == "" || ts == "*" || ts == "1.2.840.10008.1.2.1" {
					return true, nil
				}
			}
		case r.matches(mtOctetStream):
			return false, nil
		}
	}
	return false, fmt.Errorf("%w: bulk data is available as application/octet-stream (single or multipart/related) only (Accept: %s)", ErrNotAcceptable, strings.Join(accept, ", "))
}

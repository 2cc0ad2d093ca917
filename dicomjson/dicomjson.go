// Package dicomjson is the DICOM JSON Model (PS3.18 Annex F): the shape in
// which Huren stores per-instance metadata, answers QIDO-RS and WADO-RS
// metadata requests, and keeps catalog records.
//
// A Dataset maps an 8-digit uppercase hex tag ("0020000D") to an Element.
// Values follow PS3.18 F.2: strings for text VRs and UIDs, float64/int64 for
// numbers (json.Number after decoding), PersonName objects for PN, nested
// Datasets for SQ. Bulk data is never inline in stored metadata: it is a
// BulkDataURI.
package dicomjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Dataset is one DICOM JSON object.
type Dataset map[string]*Element

// Element is one attribute. Exactly one of Value, BulkDataURI, InlineBinary
// is set (or none, for an empty attribute).
type Element struct {
	VR           string `json:"vr"`
	Value        []any  `json:"Value,omitempty"`
	BulkDataURI  string `json:"BulkDataURI,omitempty"`
	InlineBinary string `json:"InlineBinary,omitempty"`
}

// PersonName is a PN value split into its component groups (PS3.5 6.2.1).
type PersonName struct {
	Alphabetic  string `json:"Alphabetic,omitempty"`
	Ideographic string `json:"Ideographic,omitempty"`
	Phonetic    string `json:"Phonetic,omitempty"`
}

// String returns the PN in DICOM's "Alphabetic=Ideographic=Phonetic" form,
// trailing empty groups dropped.
func (p PersonName) String() string {
	s := p.Alphabetic + "=" + p.Ideographic + "=" + p.Phonetic
	return strings.TrimRight(s, "=")
}

// ParsePersonName splits a decoded PN string on '=' into its groups.
func ParsePersonName(s string) PersonName {
	parts := strings.SplitN(s, "=", 3)
	var p PersonName
	p.Alphabetic = parts[0]
	if len(parts) > 1 {
		p.Ideographic = parts[1]
	}
	if len(parts) > 2 {
		p.Phonetic = parts[2]
	}
	return p
}

// Tag formats a group/element pair as the Dataset key.
func Tag(group, element uint16) string { return fmt.Sprintf("%04X%04X", group, element) }

// String returns the first value of tag as a string ("" when absent). PN values
// are returned in their "A=I=P" form; numbers in decimal.
func (d Dataset) String(tag string) string {
	e, ok := d[tag]
	if !ok || e == nil || len(e.Value) == 0 {
		return ""
	}
	return ValueString(e.Value[0])
}

// Strings returns every value of tag as strings.
func (d Dataset) Strings(tag string) []string {
	e, ok := d[tag]
	if !ok || e == nil {
		return nil
	}
	out := make([]string, 0, len(e.Value))
	for _, v := range e.Value {
		out = append(out, ValueString(v))
	}
	return out
}

// ValueString renders one JSON value as text.
func ValueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case PersonName:
		return x.String()
	case *PersonName:
		return x.String()
	case map[string]any: // PN after a JSON round trip
		var p PersonName
		p.Alphabetic, _ = x["Alphabetic"].(string)
		p.Ideographic, _ = x["Ideographic"].(string)
		p.Phonetic, _ = x["Phonetic"].(string)
		return p.String()
	case json.Number:
		return x.String()
	case float64:
		return fmt.Sprintf("%g", x)
	default:
		return fmt.Sprint(x)
	}
}

// Set stores values under tag with the given VR.
func (d Dataset) Set(tag, vr string, values ...any) {
	d[tag] = &Element{VR: vr, Value: values}
}

// Clone returns a shallow copy of the map (elements are shared; they are
// treated as immutable once built).
func (d Dataset) Clone() Dataset {
	out := make(Dataset, len(d))
	for k, v := range d {
		out[k] = v
	}
	return out
}

// Decode reads a Dataset from JSON, keeping numbers as json.Number so that
// integer-valued attributes survive unchanged.
func Decode(data []byte) (Dataset, error) {
	var d Dataset
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("dicomjson: decode: %w", err)
	}
	return d, nil
}

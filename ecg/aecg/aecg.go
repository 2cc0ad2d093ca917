// Package aecg reads HL7 v3 annotated ECG (aECG, FDA XML) files: the rhythm
// series (sequence sets with origin/scale per lead and a GLIST time
// sequence), the representative-beat derived series, patient demographics
// and the device's annotations (global intervals, axes, rhythm statements).
//
// The XML is read into a small bounded tree (node count and file size are
// capped) with encoding/xml, which does not expand external entities.
// Read is safe for concurrent use.
package aecg

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/huren-health/huren/ecg"
)

// MaxFileBytes bounds the XML accepted.
const MaxFileBytes = 128 << 20

const maxNodes = 2_000_000

type node struct {
	name     string
	attr     map[string]string
	children []*node
	text     []byte
}

func (n *node) child(name string) *node {
	if n == nil {
		return nil
	}
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (n *node) all(name string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, c := range n.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

// path follows child names; nil when any step is missing.
func (n *node) path(names ...string) *node {
	for _, s := range names {
		n = n.child(s)
	}
	return n
}

func (n *node) a(k string) string {
	if n == nil {
		return ""
	}
	return n.attr[k]
}

// walk visits n and all descendants.
func (n *node) walk(f func(*node)) {
	f(n)
	for _, c := range n.children {
		c.walk(f)
	}
}

// Sniff reports whether the first bytes look like an HL7 aECG document.
func Sniff(b []byte) bool {
	return bytes.Contains(b, []byte("AnnotatedECG"))
}

func parseTree(r io.Reader) (*node, error) {
	lr := &io.LimitedReader{R: r, N: MaxFileBytes + 1}
	d := xml.NewDecoder(lr)
	d.Strict = true
	var stack []*node
	var root *node
	count := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if lr.N <= 0 {
				return nil, fmt.Errorf("aecg: file over %d bytes: %w", MaxFileBytes, ecg.ErrTooLarge)
			}
			return nil, fmt.Errorf("aecg: xml: %v: %w", err, ecg.ErrFormat)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if count > maxNodes {
				return nil, fmt.Errorf("aecg: more than %d elements: %w", maxNodes, ecg.ErrTooLarge)
			}
			n := &node{name: t.Name.Local}
			if len(t.Attr) > 0 {
				n.attr = make(map[string]string, len(t.Attr))
				for _, a := range t.Attr {
					n.attr[a.Name.Local] = a.Value
				}
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, fmt.Errorf("aecg: several root elements: %w", ecg.ErrFormat)
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				// Only leaf text matters (digits, names); cheap to keep all.
				top.text = append(top.text, t...)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("aecg: empty document: %w", ecg.ErrFormat)
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("aecg: unclosed elements: %w", ecg.ErrTruncated)
	}
	return root, nil
}

// Read parses an aECG document.
func Read(r io.Reader) (*ecg.Record, error) {
	root, err := parseTree(r)
	if err != nil {
		return nil, err
	}
	if root.name != "AnnotatedECG" {
		return nil, fmt.Errorf("aecg: root element <%s>, want <AnnotatedECG>: %w", root.name, ecg.ErrFormat)
	}
	rec := &ecg.Record{Format: ecg.FormatAECG}
	var rhythm, rep *node
	for _, c := range root.all("component") {
		s := c.child("series")
		if s == nil {
			continue
		}
		code := s.child("code").a("code")
		if rhythm == nil && (code == "RHYTHM" || code == "") {
			rhythm = s
		}
		for _, dc := range s.all("derivation") {
			if ds := dc.child("derivedSeries"); ds != nil && rep == nil {
				rep = ds
			}
		}
	}
	if rhythm == nil {
		return nil, fmt.Errorf("aecg: no rhythm series: %w", ecg.ErrNoWaveform)
	}
	fs, start, leads, err := readSeries(rhythm)
	if err != nil {
		return nil, fmt.Errorf("aecg: rhythm series: %w", err)
	}
	rec.FS, rec.Acquired, rec.Leads = fs, start, leads
	if rep != nil {
		if _, _, beats, err := readSeries(rep); err == nil && len(beats) > 0 {
			rec.Notes = append(rec.Notes, fmt.Sprintf("representative beat series with %d leads of %d samples present", len(beats), len(beats[0].Samples)))
		}
	}
	if rec.Acquired.IsZero() {
		rec.Acquired = parseTS(root.path("effectiveTime", "center").a("value"))
	}
	readPatient(root, rec)
	readAnnotations(root, rec)
	if err := rec.Validate(); err != nil {
		return nil, fmt.Errorf("aecg: %w", err)
	}
	return rec, nil
}

func readSeries(s *node) (float64, time.Time, []ecg.Lead, error) {
	var set *node
	nsets := 0
	for _, c := range s.all("component") {
		if ss := c.child("sequenceSet"); ss != nil {
			if set == nil {
				set = ss
			}
			nsets++
		}
	}
	if set == nil {
		return 0, time.Time{}, nil, fmt.Errorf("no sequenceSet: %w", ecg.ErrNoWaveform)
	}
	var fs float64
	var start time.Time
	var leads []ecg.Lead
	for _, c := range set.all("component") {
		seq := c.child("sequence")
		if seq == nil {
			continue
		}
		code := seq.child("code").a("code")
		val := seq.child("value")
		switch {
		case code == "TIME_ABSOLUTE" || code == "TIME_RELATIVE":
			inc := val.child("increment")
			v, err := strconv.ParseFloat(inc.a("value"), 64)
			if err != nil || !(v > 0) {
				return 0, start, nil, fmt.Errorf("time increment %q: %w", inc.a("value"), ecg.ErrFormat)
			}
			switch inc.a("unit") {
			case "s", "":
			case "ms":
				v /= 1000
			case "us":
				v /= 1e6
			default:
				return 0, start, nil, fmt.Errorf("time increment unit %q: %w", inc.a("unit"), ecg.ErrUnsupported)
			}
			fs = 1 / v
			if code == "TIME_ABSOLUTE" {
				start = parseTS(val.child("head").a("value"))
			}
		default:
			if val == nil || val.child("digits") == nil {
				continue
			}
			l, err := readLead(code, val)
			if err != nil {
				return 0, start, nil, err
			}
			leads = append(leads, l)
			if len(leads) > ecg.MaxLeads {
				return 0, start, nil, fmt.Errorf("%d leads: %w", len(leads), ecg.ErrTooLarge)
			}
		}
	}
	if fs == 0 {
		return 0, start, nil, fmt.Errorf("no time sequence (sampling rate unknown): %w", ecg.ErrFormat)
	}
	if len(leads) == 0 {
		return 0, start, nil, fmt.Errorf("no lead sequences: %w", ecg.ErrNoWaveform)
	}
	return fs, start, leads, nil
}

func unitToUV(u string) (float64, error) {
	switch u {
	case "uV", "":
		return 1, nil
	case "mV":
		return 1000, nil
	case "V":
		return 1e6, nil
	case "nV":
		return 1e-3, nil
	}
	return 0, fmt.Errorf("unit %q: %w", u, ecg.ErrUnsupported)
}

func readLead(code string, val *node) (ecg.Lead, error) {
	origin, scale := 0.0, 1.0
	ou, su := 1.0, 1.0
	var err error
	if o := val.child("origin"); o != nil {
		if origin, err = strconv.ParseFloat(o.a("value"), 64); err != nil {
			return ecg.Lead{}, fmt.Errorf("lead %s origin %q: %w", code, o.a("value"), ecg.ErrFormat)
		}
		if ou, err = unitToUV(o.a("unit")); err != nil {
			return ecg.Lead{}, err
		}
	}
	if s := val.child("scale"); s != nil {
		if scale, err = strconv.ParseFloat(s.a("value"), 64); err != nil {
			return ecg.Lead{}, fmt.Errorf("lead %s scale %q: %w", code, s.a("value"), ecg.ErrFormat)
		}
		if su, err = unitToUV(s.a("unit")); err != nil {
			return ecg.Lead{}, err
		}
	}
	digits := val.child("digits").text
	x := make([]float64, 0, len(digits)/4)
	for _, f := range bytes.Fields(digits) {
		v, err := strconv.ParseFloat(string(f), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return ecg.Lead{}, fmt.Errorf("lead %s: digit %q: %w", code, f, ecg.ErrFormat)
		}
		if len(x) >= ecg.MaxSamplesPerLead {
			return ecg.Lead{}, fmt.Errorf("lead %s: %w", code, ecg.ErrTooLarge)
		}
		x = append(x, origin*ou+v*scale*su)
	}
	return ecg.Lead{Name: ecg.NormalizeLeadName(code), Samples: x}, nil
}

func parseTS(s string) time.Time {
	for _, layout := range []string{"20060102150405.000", "20060102150405", "200601021504", "20060102"} {
		if len(s) >= len(layout) {
			if t, err := time.Parse(layout, s[:len(layout)]); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

func readPatient(root *node, rec *ecg.Record) {
	root.walk(func(n *node) {
		switch n.name {
		case "administrativeGenderCode":
			if c := n.a("code"); c == "M" || c == "F" {
				rec.Patient.Sex = c
			}
		case "birthTime":
			if v := n.a("value"); v != "" && rec.Patient.BirthDate == "" {
				rec.Patient.BirthDate = v
				if b := parseTS(v); !b.IsZero() && !rec.Acquired.IsZero() {
					age := rec.Acquired.Year() - b.Year()
					if rec.Acquired.YearDay() < b.YearDay() {
						age--
					}
					if age >= 0 && age < 130 {
						rec.Patient.AgeYears = age
					}
				}
			}
		case "subjectDemographicPerson", "patientPerson":
			if nm := n.child("name"); nm != nil && rec.Patient.Name == "" {
				parts := []string{}
				for _, k := range []string{"given", "family"} {
					if c := nm.child(k); c != nil {
						parts = append(parts, strings.TrimSpace(string(c.text)))
					}
				}
				if len(parts) == 0 {
					parts = append(parts, strings.TrimSpace(string(nm.text)))
				}
				rec.Patient.Name = strings.TrimSpace(strings.Join(parts, " "))
			}
		case "trialSubject":
			if id := n.child("id"); id != nil && rec.Patient.ID == "" {
				rec.Patient.ID = id.a("extension")
			}
		case "manufacturerModelName":
			if rec.Device == "" {
				rec.Device = strings.TrimSpace(string(n.text))
			}
		}
	})
}

var measurementNames = map[string]string{
	"MDC_ECG_HEART_RATE":      "Heart Rate",
	"MDC_ECG_TIME_PD_PR":      "PR Interval",
	"MDC_ECG_TIME_PD_QRS":     "QRS Duration",
	"MDC_ECG_TIME_PD_QT":      "QT Interval",
	"MDC_ECG_TIME_PD_QTc":     "QTc Interval",
	"MDC_ECG_TIME_PD_QTcB":    "QTc Interval",
	"MDC_ECG_TIME_PD_RR":      "RR Interval",
	"MDC_ECG_TIME_PD_P":       "P Duration",
	"MDC_ECG_ANGLE_P_FRONT":   "P Axis",
	"MDC_ECG_ANGLE_QRS_FRONT": "QRS Axis",
	"MDC_ECG_ANGLE_T_FRONT":   "T Axis",
}

// readAnnotations keeps the first value of each global measurement in
// document order (devices write the global value before per-lead ones) and
// every rhythm/interpretation statement.
func readAnnotations(root *node, rec *ecg.Record) {
	seen := map[string]bool{}
	root.walk(func(n *node) {
		if n.name != "annotation" {
			return
		}
		code := n.child("code").a("code")
		val := n.child("value")
		if val == nil {
			return
		}
		if name, ok := measurementNames[code]; ok && !seen[name] {
			v, err := strconv.ParseFloat(val.a("value"), 64)
			if err == nil && !math.IsNaN(v) {
				seen[name] = true
				rec.DeviceMeasurements = append(rec.DeviceMeasurements, ecg.DeviceMeasurement{Name: name, Value: v, Unit: val.a("unit")})
			}
			return
		}
		if code == "MDC_ECG_RHY" || code == "MDC_ECG_INTERPRETATION_STATEMENT" || code == "MDC_ECG_INTERPRETATION" {
			s := val.a("displayName")
			if s == "" {
				s = strings.TrimSpace(string(val.text))
			}
			if s == "" {
				s = val.a("code")
			}
			if s != "" {
				rec.DeviceStatements = append(rec.DeviceStatements, s)
			}
		}
	})
}

// Package eval scores Huren's ECG analysis against LUDB, the Lobachevsky
// University Electrocardiography Database (resting 12-lead ECGs, 500 Hz,
// with a cardiologist's P, QRS and T boundaries for every lead and the
// diagnoses of each record).
//
// The scoring is deliberately independent of the analysis code: this
// package parses the per-lead annotation files itself (its own MIT
// annotation decoder, not ecg/wfdb's), builds the reference boundaries
// from them, reads the diagnoses from the .hea comments, and only calls
// analysis.Analyze as a black box on the signal. Nothing here is used by
// the analysis.
//
// Split (fixed before tuning, never changed): records whose number is a
// multiple of 4 form the tuning set, the others (N ≡ 2 mod 4; the shared
// folder holds the even records only) the held-out report set.
package eval

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// LUDBLeads are the annotation-file extensions, one per lead, in the
// order of the .hea file.
var LUDBLeads = []string{"i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6"}

// Set names.
const (
	Tuning  = "tuning"
	HeldOut = "held-out"
)

// SetOf returns the split a LUDB record number belongs to.
func SetOf(n int) string {
	if n%4 == 0 {
		return Tuning
	}
	return HeldOut
}

// Wave is one annotated wave in one lead, in samples.
type Wave struct {
	On, Peak, Off int
}

// LeadWaves are the annotated waves of one lead.
type LeadWaves struct {
	P, QRS, T []Wave
}

// Beat is one reference beat: its QRS peak and, per wave, the onsets and
// offsets of every lead that annotates it (sorted ascending), in samples.
type Beat struct {
	QRSPeak         int
	POns, POffs     []int
	QRSOns, QRSOffs []int
	TOffs           []int
}

// Global is how per-lead boundaries become one global boundary.
type Global int

const (
	// SecondExtreme (the primary reference): the second earliest onset and
	// the second latest offset over the leads — the global boundary that at
	// least two leads agree on. The cardiologists' per-lead boundaries of
	// one beat scatter by 10–40 ms across leads (annotation jitter), so the
	// single earliest/latest one is often an outlier.
	SecondExtreme Global = iota
	// Extreme: earliest onset and latest offset in any lead (the literal
	// IEC 60601-2-25 definition of a global interval).
	Extreme
	// MedianLead: the median over the leads of each boundary (what
	// per-lead delineation studies on LUDB compare against; shorter than
	// a global interval).
	MedianLead
)

func (g Global) String() string {
	return [...]string{"second earliest onset / second latest offset", "earliest onset / latest offset in any lead", "median over the leads"}[g]
}

func onset(x []int, g Global) int {
	switch {
	case len(x) == 0:
		return -1
	case g == Extreme || len(x) == 1:
		return x[0]
	case g == SecondExtreme:
		return x[1]
	}
	return x[len(x)/2]
}

func offset(x []int, g Global) int {
	switch {
	case len(x) == 0:
		return -1
	case g == Extreme || len(x) == 1:
		return x[len(x)-1]
	case g == SecondExtreme:
		return x[len(x)-2]
	}
	return x[len(x)/2]
}

// RefRecord is the reference for one LUDB record.
type RefRecord struct {
	N         int
	FS        float64
	Age       int
	Sex       string
	Diagnoses []string
	Leads     map[string]LeadWaves
	Beats     []Beat
}

// Diagnosis helpers.

// HasDiagnosis reports whether any diagnosis line starts with prefix
// (case-insensitive).
func (r *RefRecord) HasDiagnosis(prefix string) bool {
	for _, d := range r.Diagnoses {
		if strings.HasPrefix(strings.ToLower(d), strings.ToLower(prefix)) {
			return true
		}
	}
	return false
}

// STEMI is the cardiologists' label "STEMI: <wall>." (LUDB's wording; the
// "Undefined ischemia/scar/supp.NSTEMI" label is not STEMI).
func (r *RefRecord) STEMI() bool { return r.HasDiagnosis("STEMI:") }

// readAnnotations decodes an MIT-format annotation file (16-bit
// little-endian words: 6-bit code, 10-bit time; SKIP 59 carries a signed
// 32-bit interval in PDP-11 word order; NUM 60, SUB 61, CHN 62 carry their
// value in the 10 bits; AUX 63 is followed by its bytes, padded to even).
// Returns (sample, mnemonic) pairs for the codes LUDB uses.
func readAnnotations(r io.Reader) ([]int, []string, error) {
	br := bufio.NewReader(r)
	var samples []int
	var codes []string
	t := 0
	word := func() (int, error) {
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, err
		}
		return int(b[0]) | int(b[1])<<8, nil
	}
	for {
		w, err := word()
		if errors.Is(err, io.EOF) {
			return samples, codes, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("annotation word: %w", err)
		}
		code, val := w>>10, w&0x3ff
		switch code {
		case 0:
			if val == 0 {
				return samples, codes, nil
			}
			t += val // null annotation: time only
		case 59:
			hi, err1 := word()
			lo, err2 := word()
			if err1 != nil || err2 != nil {
				return nil, nil, fmt.Errorf("truncated SKIP")
			}
			t += int(int32(uint32(hi)<<16 | uint32(lo)))
		case 60, 61, 62:
		case 63:
			n := val + val%2
			if _, err := br.Discard(n); err != nil {
				return nil, nil, fmt.Errorf("truncated AUX: %w", err)
			}
		default:
			t += val
			m := ""
			switch code {
			case 1:
				m = "N"
			case 24:
				m = "p"
			case 27:
				m = "t"
			case 39:
				m = "("
			case 40:
				m = ")"
			default:
				m = strconv.Itoa(code)
			}
			samples = append(samples, t)
			codes = append(codes, m)
		}
	}
}

// waves groups "( X )" triplets by peak symbol.
func waves(samples []int, codes []string) LeadWaves {
	var lw LeadWaves
	for i, c := range codes {
		if c != "N" && c != "p" && c != "t" {
			continue
		}
		w := Wave{On: -1, Peak: samples[i], Off: -1}
		if i > 0 && codes[i-1] == "(" {
			w.On = samples[i-1]
		}
		if i+1 < len(codes) && codes[i+1] == ")" {
			w.Off = samples[i+1]
		}
		if w.On < 0 || w.Off < 0 {
			continue // a wave cut by the record edge: no boundaries to score
		}
		switch c {
		case "N":
			lw.QRS = append(lw.QRS, w)
		case "p":
			lw.P = append(lw.P, w)
		case "t":
			lw.T = append(lw.T, w)
		}
	}
	return lw
}

// LoadRef reads record n of the LUDB folder dir: header comments and the
// twelve annotation files.
func LoadRef(dir string, n int) (*RefRecord, error) {
	base := filepath.Join(dir, strconv.Itoa(n))
	rr := &RefRecord{N: n, Leads: map[string]LeadWaves{}}
	hf, err := os.Open(base + ".hea")
	if err != nil {
		return nil, fmt.Errorf("ludb %d: %w", n, err)
	}
	defer hf.Close()
	sc := bufio.NewScanner(hf)
	first := true
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if first && line != "" && !strings.HasPrefix(line, "#") {
			f := strings.Fields(line)
			if len(f) >= 3 {
				rr.FS, _ = strconv.ParseFloat(f[2], 64)
			}
			first = false
			continue
		}
		if !strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.TrimSpace(strings.TrimPrefix(line, "#"))
		switch {
		case strings.HasPrefix(c, "<age>:"):
			rr.Age, _ = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(c, "<age>:")))
		case strings.HasPrefix(c, "<sex>:"):
			rr.Sex = strings.TrimSpace(strings.TrimPrefix(c, "<sex>:"))
		case strings.HasPrefix(c, "<"):
		case c != "":
			rr.Diagnoses = append(rr.Diagnoses, c)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ludb %d header: %w", n, err)
	}
	if rr.FS <= 0 {
		return nil, fmt.Errorf("ludb %d: no sampling rate in header", n)
	}
	for _, l := range LUDBLeads {
		f, err := os.Open(base + "." + l)
		if err != nil {
			return nil, fmt.Errorf("ludb %d lead %s: %w", n, l, err)
		}
		s, c, err := readAnnotations(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("ludb %d lead %s: %w", n, l, err)
		}
		rr.Leads[l] = waves(s, c)
	}
	rr.Beats = globalBeats(rr)
	return rr, nil
}

// globalBeats clusters the leads' QRS annotations into beats (peaks within
// 100 ms of each other) and takes, for each beat, the earliest onset and
// latest offset of QRS, of the P wave preceding it and of the T wave
// following it over all leads that annotate them — the definition of a
// global 12-lead measurement (IEC 60601-2-25: intervals from the earliest
// onset to the latest offset in any lead).
func globalBeats(rr *RefRecord) []Beat {
	fs := rr.FS
	win := int(0.1 * fs)
	type q struct {
		w    Wave
		lead string
	}
	var all []q
	for l, lw := range rr.Leads {
		for _, w := range lw.QRS {
			all = append(all, q{w, l})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].w.Peak < all[j].w.Peak })
	// One beat: the leads' QRS annotations whose peak falls within 100 ms
	// of the first or whose onset falls before the latest offset so far
	// (a wide paced or bundle-branch-block QRS peaks at different times in
	// different leads).
	var groups [][]q
	groupOff := 0
	for _, x := range all {
		if len(groups) > 0 {
			g := groups[len(groups)-1]
			if x.w.Peak-g[0].w.Peak <= win || x.w.On < groupOff {
				groups[len(groups)-1] = append(g, x)
				groupOff = max(groupOff, x.w.Off)
				continue
			}
		}
		groups = append(groups, []q{x})
		groupOff = x.w.Off
	}
	var beats []Beat
	for gi, g := range groups {
		var b Beat
		peaks := make([]int, len(g))
		for i, x := range g {
			b.QRSOns = append(b.QRSOns, x.w.On)
			b.QRSOffs = append(b.QRSOffs, x.w.Off)
			peaks[i] = x.w.Peak
		}
		slices.Sort(peaks)
		b.QRSPeak = peaks[len(peaks)/2]
		// P: the P wave whose peak lies between the previous beat and
		// this QRS; T: the T wave after this QRS and before the next.
		prev, next := b.QRSPeak-int(2*fs), b.QRSPeak+int(2*fs)
		if gi > 0 {
			prev = groups[gi-1][0].w.Peak
		}
		if gi+1 < len(groups) {
			next = groups[gi+1][0].w.Peak
		}
		for _, lw := range rr.Leads {
			for _, w := range lw.P {
				if w.Peak > prev && w.Peak < b.QRSPeak {
					b.POns = append(b.POns, w.On)
					b.POffs = append(b.POffs, w.Off)
				}
			}
			for _, w := range lw.T {
				if w.Peak > b.QRSPeak && w.Peak < next {
					b.TOffs = append(b.TOffs, w.Off)
				}
			}
		}
		for _, x := range [][]int{b.POns, b.POffs, b.QRSOns, b.QRSOffs, b.TOffs} {
			slices.Sort(x)
		}
		beats = append(beats, b)
	}
	return beats
}

// Intervals are reference intervals of one record, ms: the median over
// the annotated beats of each beat's global interval; NaN when no beat has
// the boundaries.
type Intervals struct {
	PDur, PR, QRS, QT, RR float64
}

// Intervals returns the record's reference intervals with global
// boundaries made by g.
func (r *RefRecord) Intervals(g Global) Intervals {
	ms := 1000 / r.FS
	var pd, pr, qrs, qt, rrs []float64
	for i, b := range r.Beats {
		qOn, qOff := onset(b.QRSOns, g), offset(b.QRSOffs, g)
		if qOn >= 0 && qOff > qOn {
			qrs = append(qrs, float64(qOff-qOn)*ms)
		}
		pOn, pOff := onset(b.POns, g), offset(b.POffs, g)
		if pOn >= 0 && pOff > pOn && qOn > pOn {
			pd = append(pd, float64(pOff-pOn)*ms)
			pr = append(pr, float64(qOn-pOn)*ms)
		}
		if tOff := offset(b.TOffs, g); qOn >= 0 && tOff > qOn {
			qt = append(qt, float64(tOff-qOn)*ms)
		}
		if i > 0 {
			rrs = append(rrs, float64(b.QRSPeak-r.Beats[i-1].QRSPeak)*ms)
		}
	}
	return Intervals{PDur: medianOrNaN(pd), PR: medianOrNaN(pr), QRS: medianOrNaN(qrs), QT: medianOrNaN(qt), RR: medianOrNaN(rrs)}
}

func medianOrNaN(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Records lists the record numbers present in dir (N.hea files).
func Records(dir string) ([]int, error) {
	heas, err := filepath.Glob(filepath.Join(dir, "*.hea"))
	if err != nil {
		return nil, err
	}
	var out []int
	for _, h := range heas {
		n, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(h), ".hea"))
		if err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

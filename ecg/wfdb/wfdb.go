// Package wfdb reads PhysioNet WFDB records: the .hea header, format
// 212/16/80 signal files and MIT-format annotation files (.atr).
//
// All functions are safe for concurrent use; they keep no state. Every
// allocation is bounded by ecg's limits and by the bytes actually present,
// never by a header field alone.
package wfdb

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/huren-health/huren/ecg"
)

// Signal describes one channel from a header signal line.
type Signal struct {
	File        string
	Format      int
	Gain        float64 // ADC units per physical unit
	Baseline    float64 // ADC value of 0 physical units
	Units       string  // "mV" when absent
	ADCRes      int
	ADCZero     int
	InitValue   int
	Description string
}

// Header is a parsed .hea file (single-segment records only).
type Header struct {
	Name     string
	FS       float64
	NSamples int // 0 when the header does not say
	Signals  []Signal
	Comments []string
}

const maxHeaderBytes = 1 << 20

// ParseHeader parses a WFDB header. Multi-segment headers are unsupported.
func ParseHeader(r io.Reader) (*Header, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxHeaderBytes))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	var h *Header
	nsig := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			if h != nil {
				h.Comments = append(h.Comments, strings.TrimSpace(strings.TrimPrefix(line, "#")))
			}
			continue
		}
		f := strings.Fields(line)
		if h == nil {
			if len(f) < 2 {
				return nil, fmt.Errorf("wfdb header: record line %q: %w", line, ecg.ErrFormat)
			}
			h = &Header{Name: f[0], FS: 250}
			if strings.Contains(f[0], "/") {
				return nil, fmt.Errorf("wfdb header: multi-segment record %q: %w", f[0], ecg.ErrUnsupported)
			}
			n, err := strconv.Atoi(f[1])
			if err != nil || n < 0 || n > ecg.MaxLeads {
				return nil, fmt.Errorf("wfdb header: number of signals %q: %w", f[1], ecg.ErrFormat)
			}
			nsig = n
			if len(f) >= 3 {
				fs := f[2]
				if i := strings.IndexAny(fs, "/("); i >= 0 {
					fs = fs[:i]
				}
				v, err := strconv.ParseFloat(fs, 64)
				if err != nil || !(v > 0) {
					return nil, fmt.Errorf("wfdb header: sampling frequency %q: %w", f[2], ecg.ErrFormat)
				}
				h.FS = v
			}
			if len(f) >= 4 {
				v, err := strconv.Atoi(f[3])
				if err != nil || v < 0 {
					return nil, fmt.Errorf("wfdb header: number of samples %q: %w", f[3], ecg.ErrFormat)
				}
				h.NSamples = v
			}
			continue
		}
		if len(h.Signals) >= nsig {
			continue // info strings without '#' are tolerated
		}
		s, err := parseSignal(f)
		if err != nil {
			return nil, fmt.Errorf("wfdb header: signal %d: %w", len(h.Signals), err)
		}
		h.Signals = append(h.Signals, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("wfdb header: %v: %w", err, ecg.ErrFormat)
	}
	if h == nil {
		return nil, fmt.Errorf("wfdb header: empty: %w", ecg.ErrFormat)
	}
	if len(h.Signals) != nsig {
		return nil, fmt.Errorf("wfdb header: declares %d signals, has %d signal lines: %w", nsig, len(h.Signals), ecg.ErrTruncated)
	}
	return h, nil
}

func parseSignal(f []string) (Signal, error) {
	if len(f) < 2 {
		return Signal{}, fmt.Errorf("signal line too short: %w", ecg.ErrFormat)
	}
	s := Signal{File: f[0], Gain: 200, Units: "mV", ADCRes: 12}
	fm := f[1]
	if i := strings.IndexAny(fm, "x:+"); i >= 0 {
		if fm[i] != 'x' || !strings.HasSuffix(fm[i:], "x1") {
			return Signal{}, fmt.Errorf("format %q (skew/offset/multiple samples per frame): %w", fm, ecg.ErrUnsupported)
		}
		fm = fm[:i]
	}
	v, err := strconv.Atoi(fm)
	if err != nil {
		return Signal{}, fmt.Errorf("format %q: %w", f[1], ecg.ErrFormat)
	}
	s.Format = v
	baselineSet := false
	if len(f) >= 3 {
		g := f[2]
		if i := strings.IndexByte(g, '/'); i >= 0 {
			s.Units = g[i+1:]
			g = g[:i]
		}
		if i := strings.IndexByte(g, '('); i >= 0 {
			j := strings.IndexByte(g, ')')
			if j < i {
				return Signal{}, fmt.Errorf("gain %q: %w", f[2], ecg.ErrFormat)
			}
			b, err := strconv.ParseFloat(g[i+1:j], 64)
			if err != nil {
				return Signal{}, fmt.Errorf("baseline %q: %w", f[2], ecg.ErrFormat)
			}
			s.Baseline, baselineSet = b, true
			g = g[:i]
		}
		gv, err := strconv.ParseFloat(g, 64)
		if err != nil || gv < 0 {
			return Signal{}, fmt.Errorf("gain %q: %w", f[2], ecg.ErrFormat)
		}
		if gv > 0 {
			s.Gain = gv
		}
	}
	ints := []*int{&s.ADCRes, &s.ADCZero, &s.InitValue}
	for i, p := range ints {
		if len(f) > 3+i {
			v, err := strconv.Atoi(f[3+i])
			if err != nil {
				return Signal{}, fmt.Errorf("field %d %q: %w", 4+i, f[3+i], ecg.ErrFormat)
			}
			*p = v
		}
	}
	if !baselineSet {
		s.Baseline = float64(s.ADCZero)
	}
	if len(f) > 8 {
		s.Description = strings.Join(f[8:], " ")
	}
	return s, nil
}

// scale returns the factor from ADC units (minus baseline) to microvolts.
func (s Signal) scale() (float64, error) {
	switch strings.ToLower(s.Units) {
	case "mv":
		return 1000 / s.Gain, nil
	case "uv", "µv":
		return 1 / s.Gain, nil
	case "v":
		return 1e6 / s.Gain, nil
	}
	return 0, fmt.Errorf("signal %q units %q: %w", s.Description, s.Units, ecg.ErrUnsupported)
}

// ReadSignals decodes the signal file of h from dat. All signals must live in
// one file with one format (the common case; MIT-BIH, most PhysioNet ECG
// databases). When h.NSamples > 0 exactly that many frames are required.
func ReadSignals(h *Header, dat io.Reader) (*ecg.Record, error) {
	if len(h.Signals) == 0 {
		return nil, fmt.Errorf("wfdb %s: %w", h.Name, ecg.ErrNoWaveform)
	}
	format := h.Signals[0].Format
	for _, s := range h.Signals {
		if s.File != h.Signals[0].File || s.Format != format {
			return nil, fmt.Errorf("wfdb %s: signals in several files or formats: %w", h.Name, ecg.ErrUnsupported)
		}
	}
	nsig := len(h.Signals)
	limit := ecg.MaxTotalSamples / nsig
	if limit > ecg.MaxSamplesPerLead {
		limit = ecg.MaxSamplesPerLead
	}
	if h.NSamples > limit {
		return nil, fmt.Errorf("wfdb %s: %d samples: %w", h.Name, h.NSamples, ecg.ErrTooLarge)
	}
	want := h.NSamples
	capHint := want
	if capHint == 0 {
		capHint = 4096
	}
	raw := make([][]int32, nsig)
	for i := range raw {
		raw[i] = make([]int32, 0, capHint)
	}
	br := bufio.NewReaderSize(dat, 64*1024)
	frames := 0
	emit := func(k int, v int32) bool { // k counts samples across signals
		raw[k%nsig] = append(raw[k%nsig], v)
		if k%nsig == nsig-1 {
			frames++
		}
		return (want > 0 && frames >= want) || frames >= limit
	}
	k := 0
	var buf [3]byte
	switch format {
	case 212:
	loop212:
		for {
			n, err := io.ReadFull(br, buf[:])
			if n >= 2 {
				s0 := int32(buf[0]) | int32(buf[1]&0x0f)<<8
				if s0 > 2047 {
					s0 -= 4096
				}
				if emit(k, s0) {
					break loop212
				}
				k++
			}
			if n == 3 {
				s1 := int32(buf[2]) | int32(buf[1]&0xf0)<<4
				if s1 > 2047 {
					s1 -= 4096
				}
				if emit(k, s1) {
					break loop212
				}
				k++
			}
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					break
				}
				return nil, fmt.Errorf("wfdb %s: read: %w", h.Name, err)
			}
		}
	case 16, 80:
		size := 2
		if format == 80 {
			size = 1
		}
	loop16:
		for {
			n, err := io.ReadFull(br, buf[:size])
			if n == size {
				var v int32
				if format == 16 {
					v = int32(int16(uint16(buf[0]) | uint16(buf[1])<<8))
				} else {
					v = int32(buf[0]) - 128
				}
				if emit(k, v) {
					break loop16
				}
				k++
			}
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					break
				}
				return nil, fmt.Errorf("wfdb %s: read: %w", h.Name, err)
			}
		}
	default:
		return nil, fmt.Errorf("wfdb %s: format %d: %w", h.Name, format, ecg.ErrUnsupported)
	}
	if want > 0 && frames < want {
		return nil, fmt.Errorf("wfdb %s: header declares %d samples per signal, file holds %d: %w", h.Name, want, frames, ecg.ErrTruncated)
	}
	if frames == 0 {
		return nil, fmt.Errorf("wfdb %s: %w", h.Name, ecg.ErrNoWaveform)
	}
	rec := &ecg.Record{Format: ecg.FormatWFDB, FS: h.FS}
	for i, s := range h.Signals {
		sc, err := s.scale()
		if err != nil {
			return nil, fmt.Errorf("wfdb %s: %w", h.Name, err)
		}
		x := make([]float64, frames)
		for j := 0; j < frames; j++ {
			x[j] = (float64(raw[i][j]) - s.Baseline) * sc
		}
		name := s.Description
		if name == "" {
			name = fmt.Sprintf("ch%d", i+1)
		}
		rec.Leads = append(rec.Leads, ecg.Lead{Name: ecg.NormalizeLeadName(name), Samples: x})
	}
	parseComments(rec, h.Comments)
	if err := rec.Validate(); err != nil {
		return nil, fmt.Errorf("wfdb %s: %w", h.Name, err)
	}
	return rec, nil
}

// parseComments picks age and sex from the MIT-BIH convention "# 69 M ...".
func parseComments(rec *ecg.Record, comments []string) {
	if len(comments) == 0 {
		return
	}
	f := strings.Fields(comments[0])
	if len(f) >= 2 {
		if age, err := strconv.Atoi(f[0]); err == nil && age > 0 && age < 130 {
			if f[1] == "M" || f[1] == "F" {
				rec.Patient.AgeYears = age
				rec.Patient.Sex = f[1]
			}
		}
	}
}

// Open reads the record at path (without extension, like the WFDB tools):
// path.hea, the signal file it names (in the same directory) and, when
// present, path.atr.
func Open(path string) (*ecg.Record, error) {
	path = strings.TrimSuffix(path, ".hea")
	hf, err := os.Open(path + ".hea")
	if err != nil {
		return nil, fmt.Errorf("wfdb: %w", err)
	}
	h, err := ParseHeader(hf)
	hf.Close()
	if err != nil {
		return nil, err
	}
	if len(h.Signals) == 0 {
		return nil, fmt.Errorf("wfdb %s: %w", h.Name, ecg.ErrNoWaveform)
	}
	datName := filepath.Base(h.Signals[0].File)
	df, err := os.Open(filepath.Join(filepath.Dir(path), datName))
	if err != nil {
		return nil, fmt.Errorf("wfdb: %w", err)
	}
	defer df.Close()
	rec, err := ReadSignals(h, df)
	if err != nil {
		return nil, err
	}
	if af, err := os.Open(path + ".atr"); err == nil {
		defer af.Close()
		anns, err := ReadAnnotations(af)
		if err != nil {
			return nil, err
		}
		rec.Annotations = anns
	}
	return rec, nil
}

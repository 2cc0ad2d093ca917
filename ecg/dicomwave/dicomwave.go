// Package dicomwave reads DICOM waveform objects (12-Lead ECG, General ECG,
// Ambulatory ECG, Hemodynamic waveform storage) into an ecg.Record.
//
// It uses its own small, bounded parser of the DICOM dataset instead of
// suyashkumar/dicom, whose v1.1.0 panics on several malformed inputs and
// silently accepts truncation (see shared LIBRARIES.md): here every declared
// length is checked against the bytes present and truncation is an error.
// Supported transfer syntaxes: implicit/explicit VR little endian, explicit
// big endian and deflated explicit little endian.
//
// Read is safe for concurrent use.
package dicomwave

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/huren-health/huren/ecg"
)

// MaxFileBytes bounds the bytes Read accepts (and the inflated size of a
// deflated dataset). A 24 h 12-lead Holter at 500 Hz exceeds it; such files
// are refused with ecg.ErrTooLarge.
const MaxFileBytes = 256 << 20

// Sniff reports whether b (the first bytes of a file) looks like DICOM.
func Sniff(b []byte) bool {
	if len(b) >= 132 && string(b[128:132]) == "DICM" {
		return true
	}
	// Preamble-less files start with group 0002 or 0008.
	return len(b) >= 8 && (b[0] == 0x02 || b[0] == 0x08) && b[1] == 0 && b[3] == 0 && isUpper(b[4]) && isUpper(b[5])
}

// Read parses a DICOM waveform file from r.
func Read(r io.Reader) (*ecg.Record, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("dicom: read: %w", err)
	}
	if n > MaxFileBytes {
		return nil, fmt.Errorf("dicom: file over %d bytes: %w", MaxFileBytes, ecg.ErrTooLarge)
	}
	return Parse(buf.Bytes())
}

// Tags used below.
const (
	tPatientName     = 0x00100010
	tPatientID       = 0x00100020
	tBirthDate       = 0x00100030
	tSex             = 0x00100040
	tAge             = 0x00101010
	tAcqDateTime     = 0x0008002A
	tContentDate     = 0x00080023
	tContentTime     = 0x00080033
	tManufacturer    = 0x00080070
	tModel           = 0x00081090
	tWaveformSeq     = 0x54000100
	tNumChannels     = 0x003A0005
	tNumSamples      = 0x003A0010
	tSamplingFreq    = 0x003A001A
	tGroupLabel      = 0x003A0020
	tChannelDefSeq   = 0x003A0200
	tChannelSource   = 0x003A0208
	tSensitivity     = 0x003A0210
	tSensUnits       = 0x003A0211
	tCorrection      = 0x003A0212
	tBaseline        = 0x003A0213
	tBitsAllocated   = 0x54001004
	tInterpretation  = 0x54001006
	tWaveformData    = 0x54001010
	tCodeValue       = 0x00080100
	tCodeMeaning     = 0x00080104
	tAnnotationSeq   = 0x0040B020
	tConceptName     = 0x0040A043
	tNumericValue    = 0x0040A30A
	tUnitsCodeSeq    = 0x004008EA
	tUnformattedText = 0x00700006
)

// Parse decodes a DICOM waveform held in b. It never panics: malformed input
// yields an error wrapping one of ecg's sentinels.
func Parse(b []byte) (*ecg.Record, error) {
	root, order, err := parseFile(b, MaxFileBytes)
	if err != nil {
		return nil, err
	}
	seq := root.get(tWaveformSeq)
	if seq == nil || len(seq.items) == 0 {
		return nil, fmt.Errorf("dicom: no Waveform Sequence (5400,0100): %w", ecg.ErrNoWaveform)
	}
	// Pick the multiplex group to analyse: the rhythm group if labelled,
	// else the one with the most samples per channel.
	p := &parser{order: order}
	best, bestN := -1, int64(-1)
	for i, it := range seq.items {
		label := strings.ToUpper(str(it.get(tGroupLabel)))
		ns, _ := p.u32(it.get(tNumSamples))
		if strings.Contains(label, "RHYTHM") {
			best = i
			break
		}
		if ns > bestN {
			best, bestN = i, ns
		}
	}
	rec := &ecg.Record{Format: ecg.FormatDICOM}
	if err := decodeGroup(p, seq.items[best], rec); err != nil {
		return nil, err
	}
	if len(seq.items) > 1 {
		rec.Notes = append(rec.Notes, fmt.Sprintf("%d multiplex groups; analysed group %d (%s)", len(seq.items), best+1, str(seq.items[best].get(tGroupLabel))))
	}
	readPatient(root, rec)
	readAnnotations(root, rec)
	if err := rec.Validate(); err != nil {
		return nil, fmt.Errorf("dicom: %w", err)
	}
	return rec, nil
}

func decodeGroup(p *parser, g *dataset, rec *ecg.Record) error {
	nch, ok := p.u16(g.get(tNumChannels))
	if !ok || nch == 0 {
		return fmt.Errorf("dicom: Number of Waveform Channels missing or 0: %w", ecg.ErrNoWaveform)
	}
	if nch > ecg.MaxLeads {
		return fmt.Errorf("dicom: %d channels: %w", nch, ecg.ErrTooLarge)
	}
	ns64, ok := p.u32(g.get(tNumSamples))
	if !ok || ns64 == 0 {
		return fmt.Errorf("dicom: Number of Waveform Samples missing or 0: %w", ecg.ErrNoWaveform)
	}
	if ns64 > ecg.MaxSamplesPerLead || ns64*int64(nch) > ecg.MaxTotalSamples {
		return fmt.Errorf("dicom: %d samples × %d channels: %w", ns64, nch, ecg.ErrTooLarge)
	}
	ns := int(ns64)
	fs, ok := ds(g.get(tSamplingFreq))
	if !ok {
		return fmt.Errorf("dicom: Sampling Frequency missing: %w", ecg.ErrFormat)
	}
	rec.FS = fs
	bits, ok := p.u16(g.get(tBitsAllocated))
	if !ok {
		return fmt.Errorf("dicom: Waveform Bits Allocated missing: %w", ecg.ErrFormat)
	}
	interp := str(g.get(tInterpretation))
	size := 0
	switch {
	case bits == 16 && (interp == "SS" || interp == "US"):
		size = 2
	case bits == 8 && (interp == "SB" || interp == "UB"):
		size = 1
	case bits == 32 && (interp == "SL" || interp == "UL"):
		size = 4
	default:
		return fmt.Errorf("dicom: waveform %d bits, interpretation %q: %w", bits, interp, ecg.ErrUnsupported)
	}
	data := g.get(tWaveformData)
	if data == nil {
		return fmt.Errorf("dicom: Waveform Data (5400,1010) missing: %w", ecg.ErrNoWaveform)
	}
	need := ns * nch * size
	if len(data.value) < need {
		return fmt.Errorf("dicom: Waveform Data has %d bytes, %d samples × %d channels × %d bytes need %d: %w",
			len(data.value), ns, nch, size, need, ecg.ErrTruncated)
	}
	defs := g.get(tChannelDefSeq)
	if defs == nil || len(defs.items) != nch {
		got := 0
		if defs != nil {
			got = len(defs.items)
		}
		return fmt.Errorf("dicom: %d channel definitions for %d channels: %w", got, nch, ecg.ErrFormat)
	}
	v := data.value
	for c := 0; c < nch; c++ {
		def := defs.items[c]
		name := fmt.Sprintf("ch%d", c+1)
		if src := def.get(tChannelSource); src != nil && len(src.items) > 0 {
			if m := str(src.items[0].get(tCodeMeaning)); m != "" {
				name = m
			} else if cv := str(src.items[0].get(tCodeValue)); cv != "" {
				name = cv
			}
		}
		sens, ok := ds(def.get(tSensitivity))
		if !ok || sens == 0 {
			sens = 1
		}
		corr, ok := ds(def.get(tCorrection))
		if !ok || corr == 0 {
			corr = 1
		}
		base, _ := ds(def.get(tBaseline))
		unit := "uV"
		if u := def.get(tSensUnits); u != nil && len(u.items) > 0 {
			unit = str(u.items[0].get(tCodeValue))
		}
		toUV := 1.0
		switch strings.ToLower(unit) {
		case "uv", "µv":
		case "mv":
			toUV = 1000
		case "v":
			toUV = 1e6
		default:
			return fmt.Errorf("dicom: channel %d (%s) units %q: %w", c+1, name, unit, ecg.ErrUnsupported)
		}
		x := make([]float64, ns)
		for i := 0; i < ns; i++ {
			off := (i*nch + c) * size
			var raw float64
			switch {
			case size == 2 && interp == "SS":
				raw = float64(int16(p.order.Uint16(v[off:])))
			case size == 2:
				raw = float64(p.order.Uint16(v[off:]))
			case size == 1 && interp == "SB":
				raw = float64(int8(v[off]))
			case size == 1:
				raw = float64(v[off])
			case interp == "SL":
				raw = float64(int32(p.order.Uint32(v[off:])))
			default:
				raw = float64(p.order.Uint32(v[off:]))
			}
			x[i] = (raw*sens*corr + base) * toUV
		}
		rec.Leads = append(rec.Leads, ecg.Lead{Name: ecg.NormalizeLeadName(name), Samples: x})
	}
	return nil
}

func readPatient(root *dataset, rec *ecg.Record) {
	rec.Patient.Name = strings.ReplaceAll(str(root.get(tPatientName)), "^", " ")
	rec.Patient.ID = str(root.get(tPatientID))
	rec.Patient.BirthDate = str(root.get(tBirthDate))
	switch s := strings.ToUpper(str(root.get(tSex))); s {
	case "M", "F":
		rec.Patient.Sex = s
	}
	if a := str(root.get(tAge)); len(a) == 4 && a[3] == 'Y' {
		if n, err := strconv.Atoi(a[:3]); err == nil {
			rec.Patient.AgeYears = n
		}
	}
	dt := str(root.get(tAcqDateTime))
	if dt == "" {
		dt = str(root.get(tContentDate)) + str(root.get(tContentTime))
	}
	if len(dt) >= 14 {
		if t, err := time.Parse("20060102150405", dt[:14]); err == nil {
			rec.Acquired = t
		}
	}
	rec.Device = strings.TrimSpace(str(root.get(tManufacturer)) + " " + str(root.get(tModel)))
}

// readAnnotations keeps the device's global measurements and statements;
// per-beat fiducials (items with Referenced Sample Positions) are skipped.
func readAnnotations(root *dataset, rec *ecg.Record) {
	seq := root.get(tAnnotationSeq)
	if seq == nil {
		return
	}
	for _, it := range seq.items {
		if t := str(it.get(tUnformattedText)); t != "" {
			rec.DeviceStatements = append(rec.DeviceStatements, t)
			continue
		}
		val, ok := ds(it.get(tNumericValue))
		cn := it.get(tConceptName)
		if !ok || cn == nil || len(cn.items) == 0 || math.IsNaN(val) {
			continue
		}
		m := ecg.DeviceMeasurement{Name: str(cn.items[0].get(tCodeMeaning)), Value: val}
		if u := it.get(tUnitsCodeSeq); u != nil && len(u.items) > 0 {
			m.Unit = str(u.items[0].get(tCodeValue))
		}
		rec.DeviceMeasurements = append(rec.DeviceMeasurements, m)
	}
}

package ecg

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/huren-health/huren/errkind"
)

// Errors shared by all readers. Readers wrap them with detail
// (fmt.Errorf("scp section 6: %w", ErrTruncated)) so callers can match the kind
// and users read the reason.
var (
	// ErrFormat: the bytes are not (a well-formed instance of) the format.
	ErrFormat = errkind.New(errkind.Invalid, "ecg: malformed file")
	// ErrTruncated: the file ends before the data it declares.
	ErrTruncated = errkind.New(errkind.Invalid, "ecg: truncated file")
	// ErrUnsupported: a legal variant this reader does not implement
	// (e.g. a WFDB format other than 212/16/80, big-endian DICOM).
	ErrUnsupported = errkind.New(errkind.Unsupported, "ecg: unsupported encoding")
	// ErrNoWaveform: a well-formed file that carries no ECG samples.
	ErrNoWaveform = errkind.New(errkind.Unprocessable, "ecg: no waveform in file")
	// ErrUnknownFormat: none of the readers recognise the bytes.
	ErrUnknownFormat = errkind.New(errkind.Unsupported, "ecg: unknown file format")
	// ErrTooLarge: the declared or actual size exceeds the reader's limits.
	ErrTooLarge = errkind.New(errkind.TooLarge, "ecg: recording too large")
	// ErrInvalid: the decoded record is unusable (absurd sampling rate,
	// leads of different length, NaN samples...).
	ErrInvalid = errkind.New(errkind.Unprocessable, "ecg: invalid recording")
)

// Limits applied by every reader before allocating from untrusted headers.
const (
	// MaxSamplesPerLead bounds one lead: 24 h at 1 kHz.
	MaxSamplesPerLead = 24 * 3600 * 1000
	// MaxLeads bounds the number of channels.
	MaxLeads = 64
	// MaxTotalSamples bounds leads × samples (≈ 800 MB of float64).
	MaxTotalSamples = 100_000_000
	// MinFS and MaxFS bound a plausible ECG sampling rate in Hz.
	MinFS = 50
	MaxFS = 20000
)

// Format names the source encoding of a Record.
type Format string

const (
	FormatDICOM Format = "dicom"
	FormatAECG  Format = "aecg"
	FormatSCP   Format = "scp"
	FormatWFDB  Format = "wfdb"
)

// Lead is one channel, in microvolts, at the record's sampling rate.
type Lead struct {
	// Name is normalised where recognised: I II III aVR aVL aVF V1..V6,
	// otherwise the source's label (e.g. "MLII", "V5").
	Name    string
	Samples []float64
	// Derived is true when the lead was computed (e.g. III = II - I) rather
	// than recorded.
	Derived bool
}

// Patient is what the file says about the patient. Fields may be empty.
type Patient struct {
	ID        string `json:"id,omitempty"`
	Name      string `json:"name,omitempty"`
	Sex       string `json:"sex,omitempty"` // "M", "F" or ""
	AgeYears  int    `json:"age_years,omitempty"`
	BirthDate string `json:"birth_date,omitempty"`
}

// DeviceMeasurement is a value the acquiring device computed and stored in
// the file (e.g. "QT Interval" = 368 ms). Kept for comparison with Huren's own.
type DeviceMeasurement struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// Annotation is a reference annotation carried by the file (WFDB .atr).
type Annotation struct {
	Sample int    `json:"sample"`
	Code   string `json:"code"`
	// Aux is the annotation's auxiliary text, e.g. the rhythm "(AFIB" of a
	// WFDB rhythm-change annotation.
	Aux string `json:"aux,omitempty"`
}

// Record is one ECG recording.
type Record struct {
	Format Format
	// FS is the sampling rate in Hz, common to all leads.
	FS    float64
	Leads []Lead
	// Acquired is the acquisition time when the file states one (zero otherwise).
	Acquired time.Time
	Device   string
	Patient  Patient
	// DeviceMeasurements and DeviceStatements are the device's own
	// measurements and interpretation text, when the file carries them.
	DeviceMeasurements []DeviceMeasurement
	DeviceStatements   []string
	Annotations        []Annotation
	// Notes records non-fatal reader remarks (e.g. "lead III derived").
	Notes []string
}

// Len returns the number of samples per lead (0 when there are no leads).
func (r *Record) Len() int {
	if len(r.Leads) == 0 {
		return 0
	}
	return len(r.Leads[0].Samples)
}

// Duration returns the recording length.
func (r *Record) Duration() time.Duration {
	if r.FS <= 0 {
		return 0
	}
	return time.Duration(float64(r.Len()) / r.FS * float64(time.Second))
}

// Lead returns the lead with the given (normalised) name, or nil.
func (r *Record) Lead(name string) *Lead {
	for i := range r.Leads {
		if r.Leads[i].Name == name {
			return &r.Leads[i]
		}
	}
	return nil
}

// Validate checks the invariants every consumer relies on: a plausible
// sampling rate, at least one lead, equal lead lengths, finite samples and
// the size limits.
func (r *Record) Validate() error {
	if math.IsNaN(r.FS) || r.FS < MinFS || r.FS > MaxFS {
		return fmt.Errorf("%w: sampling rate %g Hz outside [%d, %d]", ErrInvalid, r.FS, MinFS, MaxFS)
	}
	if len(r.Leads) == 0 {
		return fmt.Errorf("%w: no leads", ErrNoWaveform)
	}
	if len(r.Leads) > MaxLeads {
		return fmt.Errorf("%w: %d leads (max %d)", ErrTooLarge, len(r.Leads), MaxLeads)
	}
	n := r.Len()
	if n == 0 {
		return fmt.Errorf("%w: leads have no samples", ErrNoWaveform)
	}
	if n > MaxSamplesPerLead || n*len(r.Leads) > MaxTotalSamples {
		return fmt.Errorf("%w: %d samples × %d leads", ErrTooLarge, n, len(r.Leads))
	}
	for i, l := range r.Leads {
		if len(l.Samples) != n {
			return fmt.Errorf("%w: lead %s has %d samples, lead %s has %d", ErrInvalid, l.Name, len(l.Samples), r.Leads[0].Name, n)
		}
		for j, v := range l.Samples {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: lead %d (%s) sample %d is not finite", ErrInvalid, i, l.Name, j)
			}
		}
	}
	return nil
}

// NormalizeLeadName maps the many spellings of the standard leads
// ("Lead I (Einthoven)", "MDC_ECG_LEAD_AVR", "V1", "aVR") to
// I II III aVR aVL aVF V1..V6; anything else is returned trimmed.
func NormalizeLeadName(s string) string {
	t := strings.TrimSpace(s)
	u := strings.ToUpper(t)
	u = strings.TrimPrefix(u, "MDC_ECG_LEAD_")
	u = strings.TrimPrefix(u, "LEAD ")
	if i := strings.IndexAny(u, " (,"); i > 0 {
		u = u[:i]
	}
	switch u {
	case "I", "II", "III", "V1", "V2", "V3", "V4", "V5", "V6":
		return u
	case "AVR", "-AVR":
		if u == "-AVR" {
			return t
		}
		return "aVR"
	case "AVL":
		return "aVL"
	case "AVF":
		return "aVF"
	}
	return t
}

// StandardLeads is the display and analysis order of the 12 standard leads.
var StandardLeads = []string{"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"}

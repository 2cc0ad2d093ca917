// Package read recognises an ECG file's format from its content (and, as a
// hint, its name) and dispatches to the matching reader. Safe for
// concurrent use.
package read

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/huren-health/huren/ecg"
	"github.com/huren-health/huren/ecg/aecg"
	"github.com/huren-health/huren/ecg/dicomwave"
	"github.com/huren-health/huren/ecg/scp"
	"github.com/huren-health/huren/ecg/wfdb"
)

// SniffLen is how many leading bytes Sniff needs.
const SniffLen = 4096

// Sniff names the format of a single-file ECG from its first bytes, or ""
// when unknown. WFDB records (header + signal file) are recognised by
// SniffWFDBHeader instead.
func Sniff(head []byte) ecg.Format {
	switch {
	case dicomwave.Sniff(head):
		return ecg.FormatDICOM
	case scp.Sniff(head):
		return ecg.FormatSCP
	case aecg.Sniff(head):
		return ecg.FormatAECG
	}
	return ""
}

// SniffWFDBHeader reports whether head parses as the first line of a WFDB
// header ("name nsig [fs [nsamp]]").
func SniffWFDBHeader(head []byte) bool {
	line := head
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	for bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
		head = head[bytes.IndexByte(head, '\n')+1:]
		line = head
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
	}
	f := strings.Fields(string(line))
	if len(f) < 2 || len(f) > 8 {
		return false
	}
	for _, c := range f[1] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Ext is the conventional file extension for a format (for storage keys).
func Ext(f ecg.Format) string {
	switch f {
	case ecg.FormatDICOM:
		return "dcm"
	case ecg.FormatAECG:
		return "xml"
	case ecg.FormatSCP:
		return "scp"
	case ecg.FormatWFDB:
		return "hea"
	}
	return "bin"
}

// Reader reads a single-file ECG (DICOM, aECG, SCP) from r.
func Reader(r io.Reader) (*ecg.Record, ecg.Format, error) {
	br := bufio.NewReaderSize(r, SniffLen)
	head, _ := br.Peek(SniffLen)
	f := Sniff(head)
	var rec *ecg.Record
	var err error
	switch f {
	case ecg.FormatDICOM:
		rec, err = dicomwave.Read(br)
	case ecg.FormatSCP:
		rec, err = scp.Read(br)
	case ecg.FormatAECG:
		rec, err = aecg.Read(br)
	default:
		if SniffWFDBHeader(head) {
			return nil, ecg.FormatWFDB, fmt.Errorf("a WFDB header alone has no samples; give the record path or upload .hea and .dat together: %w", ecg.ErrNoWaveform)
		}
		return nil, "", ecg.ErrUnknownFormat
	}
	return rec, f, err
}

// File reads the ECG at path. A path without a recognised single-file format
// whose path.hea exists (or that ends in .hea) is read as a WFDB record.
func File(path string) (*ecg.Record, ecg.Format, error) {
	if strings.HasSuffix(path, ".hea") {
		rec, err := wfdb.Open(path)
		return rec, ecg.FormatWFDB, err
	}
	f, err := os.Open(path)
	if err != nil {
		if _, herr := os.Stat(path + ".hea"); herr == nil {
			rec, err := wfdb.Open(path)
			return rec, ecg.FormatWFDB, err
		}
		return nil, "", fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	defer f.Close()
	rec, format, err := Reader(f)
	if err != nil {
		return nil, format, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	return rec, format, nil
}

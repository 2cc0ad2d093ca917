package wfdb

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/huren-health/huren/ecg"
)

// codes maps MIT annotation codes (1..41) to their mnemonic.
var codes = [...]string{
	0: "", 1: "N", 2: "L", 3: "R", 4: "a", 5: "V", 6: "F", 7: "J", 8: "A", 9: "S", 10: "E",
	11: "j", 12: "/", 13: "Q", 14: "~", 15: "", 16: "|", 17: "", 18: "s", 19: "T", 20: "*",
	21: "D", 22: "\"", 23: "=", 24: "p", 25: "B", 26: "^", 27: "t", 28: "+", 29: "u", 30: "?",
	31: "!", 32: "[", 33: "]", 34: "e", 35: "n", 36: "@", 37: "x", 38: "f", 39: "(", 40: ")",
	41: "r",
}

var beatCodes = map[string]bool{
	"N": true, "L": true, "R": true, "B": true, "A": true, "a": true, "J": true, "S": true, "V": true,
	"r": true, "F": true, "e": true, "j": true, "n": true, "E": true, "/": true, "f": true, "Q": true, "?": true,
}

// IsBeat reports whether an annotation mnemonic is a beat label in the
// ANSI/AAMI EC57 sense (the labels scored for QRS detection).
func IsBeat(code string) bool { return beatCodes[code] }

// maxAnnotations bounds the annotation list (24 h at 300 bpm is 432,000).
const maxAnnotations = 2_000_000

// maxSample bounds an annotation's sample number (2³¹−1: a 24 h record at
// 10 kHz is under 10⁹).
const maxSample = math.MaxInt32

// ReadAnnotations decodes an MIT-format annotation file: 16-bit little-endian
// words holding a 6-bit code and a 10-bit time delta, with the SKIP (59),
// NUM (60), SUB (61), CHN (62) and AUX (63) pseudo-codes.
//
// SKIP carries a signed 32-bit interval in PDP-11 order (high 16-bit word
// first, each word little-endian). The WFDB library writes a negative SKIP
// when an annotation is earlier than the previous one (e.g. annotations of
// different channels written out of time order), so the result is sorted by
// sample (stable: equal samples keep file order). An annotation before
// sample 0 or past maxSample is a format error.
func ReadAnnotations(r io.Reader) ([]ecg.Annotation, error) {
	br := bufio.NewReader(r)
	var out []ecg.Annotation
	var t int64
	var w [2]byte
	var aux [1024]byte // the 10-bit length bounds AUX at 1023 bytes (+1 pad)
	for {
		if _, err := io.ReadFull(br, w[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return sorted(out), nil // missing end marker: tolerated, as the WFDB library does
			}
			return nil, fmt.Errorf("wfdb annotations: %w", ecg.ErrTruncated)
		}
		v := uint16(w[0]) | uint16(w[1])<<8
		a, i := int(v>>10), int64(v&0x3ff)
		switch {
		case a == 0 && i == 0:
			return sorted(out), nil
		case a == 59: // SKIP: 32-bit interval, PDP-11 order (high word first)
			var b [4]byte
			if _, err := io.ReadFull(br, b[:]); err != nil {
				return nil, fmt.Errorf("wfdb annotations: SKIP: %w", ecg.ErrTruncated)
			}
			hi := uint32(b[0]) | uint32(b[1])<<8
			lo := uint32(b[2]) | uint32(b[3])<<8
			t += int64(int32(hi<<16 | lo)) // two's complement across both words
			if t < 0 || t > maxSample {
				return nil, fmt.Errorf("wfdb annotations: SKIP to sample %d: %w", t, ecg.ErrFormat)
			}
		case a == 60 || a == 61 || a == 62:
			// NUM, SUB, CHN modify the previous annotation's fields we do not keep.
		case a == 63: // AUX: i bytes of text, padded to even
			n := int(i + i&1)
			if _, err := io.ReadFull(br, aux[:n]); err != nil {
				return nil, fmt.Errorf("wfdb annotations: AUX: %w", ecg.ErrTruncated)
			}
			if k := len(out) - 1; k >= 0 {
				// Text up to the first NUL, as the WFDB library stores it.
				txt := aux[:i]
				if z := bytes.IndexByte(txt, 0); z >= 0 {
					txt = txt[:z]
				}
				out[k].Aux = string(txt)
			}
		default:
			t += i
			if t > maxSample {
				return nil, fmt.Errorf("wfdb annotations: sample %d out of range: %w", t, ecg.ErrFormat)
			}
			if len(out) >= maxAnnotations {
				return nil, fmt.Errorf("wfdb annotations: more than %d: %w", maxAnnotations, ecg.ErrTooLarge)
			}
			code := ""
			if a < len(codes) {
				code = codes[a]
			}
			if code == "" {
				code = fmt.Sprintf("#%d", a)
			}
			out = append(out, ecg.Annotation{Sample: int(t), Code: code})
		}
	}
}

// sorted orders annotations by sample; a file without negative SKIPs is
// already in order and is returned as is.
func sorted(a []ecg.Annotation) []ecg.Annotation {
	if !slices.IsSortedFunc(a, cmpSample) {
		slices.SortStableFunc(a, cmpSample)
	}
	return a
}

func cmpSample(x, y ecg.Annotation) int { return x.Sample - y.Sample }

package dicomfile

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/huren-health/huren/dicomjson"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// dictVR returns the data dictionary VR of a standard tag, "" if unknown.
// Repeating groups (50xx curves, 60xx overlays) map to their xx00 entry.
func dictVR(g, e uint16) string {
	if g%2 == 1 {
		return ""
	}
	if e == 0x0000 {
		return "UL" // group length
	}
	lg := g
	if g&0xFF00 == 0x6000 || g&0xFF00 == 0x5000 {
		lg = g & 0xFF00
	}
	info, err := tag.Find(tag.Tag{Group: lg, Element: e})
	if err != nil || len(info.VRs) == 0 {
		return ""
	}
	vr := info.VRs[0]
	switch {
	case lg == 0x7FE0 && e == 0x0010:
		return "OW" // "OB or OW": implicit VR pixel data is OW by PS3.5 A.1
	case lg == 0x6000 && e == 0x3000:
		return "OW"
	}
	if len(info.VRs) == 2 && info.VRs[0] == "US" && info.VRs[1] == "SS" {
		return vrUSorSS
	}
	if len(info.VRs) > 1 {
		// "US or SS", "US or SS or OW", "OB or OW": take the first, but
		// prefer OW over OB for binary choices as PS3.5 A.1 prescribes.
		for _, v := range info.VRs {
			if v == "OW" {
				return "OW"
			}
		}
	}
	if len(vr) != 2 {
		return ""
	}
	return vr
}

// vrUSorSS marks the "US or SS" attributes whose VR in Implicit VR files
// follows Pixel Representation (PS3.5 Annex A.1 c).
const vrUSorSS = "xs"

// implicitVR is the VR of an element in an Implicit VR dataset.
func implicitVR(g, e uint16) string {
	if g%2 == 1 {
		if e >= 0x0010 && e <= 0x00FF {
			return "LO" // private creator
		}
		return "UN"
	}
	vr := dictVR(g, e)
	if vr == "" {
		return "UN"
	}
	return vr
}

// textVR: VRs whose values are affected by Specific Character Set.
func textVR(vr string) bool {
	switch vr {
	case "SH", "LO", "ST", "LT", "UT", "UC", "PN":
		return true
	}
	return false
}

// singleValued: string VRs that never split on backslash.
func singleValued(vr string) bool {
	switch vr {
	case "ST", "LT", "UT", "UR":
		return true
	}
	return false
}

// decodeValue converts one element's raw bytes to its DICOM JSON form.
func (p *parser) decodeValue(h elemHeader, val []byte, cs *charset) *dicomjson.Element {
	vr := h.vr
	el := &dicomjson.Element{VR: vr}
	if len(val) == 0 {
		return el
	}
	bo := h.bo
	switch vr {
	case "OB", "OW", "OF", "OD", "OL", "OV", "UN":
		el.InlineBinary = base64.StdEncoding.EncodeToString(toLittleEndian(vr, val, bo))
		return el
	case "US":
		for i := 0; i+2 <= len(val); i += 2 {
			el.Value = append(el.Value, int64(bo.Uint16(val[i:])))
		}
	case "SS":
		for i := 0; i+2 <= len(val); i += 2 {
			el.Value = append(el.Value, int64(int16(bo.Uint16(val[i:]))))
		}
	case "UL":
		for i := 0; i+4 <= len(val); i += 4 {
			el.Value = append(el.Value, int64(bo.Uint32(val[i:])))
		}
	case "SL":
		for i := 0; i+4 <= len(val); i += 4 {
			el.Value = append(el.Value, int64(int32(bo.Uint32(val[i:]))))
		}
	case "SV":
		for i := 0; i+8 <= len(val); i += 8 {
			v := int64(bo.Uint64(val[i:]))
			if v > maxSafeInt || v < -maxSafeInt {
				el.Value = append(el.Value, strconv.FormatInt(v, 10))
			} else {
				el.Value = append(el.Value, v)
			}
		}
	case "UV":
		for i := 0; i+8 <= len(val); i += 8 {
			v := bo.Uint64(val[i:])
			if v > maxSafeInt {
				el.Value = append(el.Value, strconv.FormatUint(v, 10))
			} else {
				el.Value = append(el.Value, int64(v))
			}
		}
	case "FL":
		for i := 0; i+4 <= len(val); i += 4 {
			el.Value = append(el.Value, jsonFloat(float64(math.Float32frombits(bo.Uint32(val[i:])))))
		}
	case "FD":
		for i := 0; i+8 <= len(val); i += 8 {
			el.Value = append(el.Value, jsonFloat(math.Float64frombits(bo.Uint64(val[i:]))))
		}
	case "AT":
		for i := 0; i+4 <= len(val); i += 4 {
			el.Value = append(el.Value, tagKey(bo.Uint16(val[i:]), bo.Uint16(val[i+2:])))
		}
	case "DS", "IS":
		for _, part := range bytes.Split(val, []byte{'\\'}) {
			s := strings.TrimSpace(strings.TrimRight(string(part), "\x00"))
			el.Value = append(el.Value, numberValue(vr, s))
		}
	case "PN":
		for _, s := range cs.decodeValues(val, true) {
			s = strings.TrimRight(s, " \x00")
			if s == "" {
				el.Value = append(el.Value, nil)
				continue
			}
			el.Value = append(el.Value, dicomjson.ParsePersonName(s))
		}
	default:
		var parts []string
		if textVR(vr) {
			if singleValued(vr) {
				parts = []string{cs.decode(val, false)}
			} else {
				parts = cs.decodeValues(val, false)
			}
		} else {
			if singleValued(vr) || bytes.IndexByte(val, '\\') < 0 {
				parts = []string{asciiString(val)}
			} else {
				for _, b := range bytes.Split(val, []byte{'\\'}) {
					parts = append(parts, asciiString(b))
				}
			}
		}
		for _, s := range parts {
			s = trimString(vr, s)
			if s == "" {
				el.Value = append(el.Value, nil)
				continue
			}
			el.Value = append(el.Value, s)
		}
	}
	if allNil(el.Value) {
		el.Value = nil
	}
	return el
}

func allNil(v []any) bool {
	for _, x := range v {
		if x != nil {
			return false
		}
	}
	return true
}

// trimString removes the padding PS3.5 6.2 declares insignificant.
func trimString(vr, s string) string {
	switch vr {
	case "UI":
		return strings.TrimRight(s, "\x00 ")
	case "ST", "LT", "UT", "UR", "UC":
		return strings.TrimRight(s, " \x00")
	default:
		return strings.Trim(s, " \x00")
	}
}

// asciiString decodes a default-repertoire value; stray high bytes are read
// as Latin-1 so that nothing is lost and the result is valid UTF-8.
func asciiString(b []byte) string {
	for _, c := range b {
		if c >= 0x80 {
			return latin1(b)
		}
	}
	return string(b)
}

func latin1(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// numberValue converts a DS/IS string to a JSON number. PS3.18 F.2.3 wants
// numbers; a value that is not a finite number is kept as its string so that
// the information is not silently dropped (documented deviation).
func numberValue(vr, s string) any {
	if s == "" {
		return nil
	}
	if vr == "IS" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		if utf8.ValidString(s) {
			return s
		}
		return latin1([]byte(s))
	}
	if vr == "IS" && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}

// maxSafeInt is 2^53: SV/UV values beyond it are JSON strings (PS3.18
// F.2.3.1), since JavaScript clients would silently round them as numbers.
const maxSafeInt = 1 << 53

// jsonFloat keeps finite floats as numbers and encodes NaN and infinities as
// the strings PS3.18 F.2.3.1 specifies, since JSON has no such numbers.
func jsonFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

// toLittleEndian returns binary values in little-endian order, as
// InlineBinary requires; OB and UN are byte streams and never swapped.
func toLittleEndian(vr string, b []byte, bo binary.ByteOrder) []byte {
	if bo == binary.LittleEndian {
		return b
	}
	size := 0
	switch vr {
	case "OW":
		size = 2
	case "OF", "OL":
		size = 4
	case "OD", "OV":
		size = 8
	default:
		return b
	}
	out := make([]byte, len(b))
	copy(out, b)
	for i := 0; i+size <= len(out); i += size {
		for a, z := i, i+size-1; a < z; a, z = a+1, z-1 {
			out[a], out[z] = out[z], out[a]
		}
	}
	return out
}

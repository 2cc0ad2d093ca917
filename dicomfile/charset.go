package dicomfile

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// gset is a graphic character set that can be designated to G0 or G1
// (PS3.3 C.12.1.1.2, PS3.5 6.1).
type gset int

const (
	gNone       gset = iota
	gASCII           // ISO-IR 6 (G0)
	gRomaji          // JIS X 0201 Romaji, ISO-IR 14 (G0); decoded as ASCII like pydicom
	gKatakana        // JIS X 0201 Katakana, ISO-IR 13 (G1)
	gJIS0208         // ISO-IR 87 (G0, two bytes, 7-bit)
	gJIS0212         // ISO-IR 159 (G0, two bytes, 7-bit)
	gKSX1001         // ISO-IR 149 (G1, two bytes, 8-bit)
	gGB2312          // ISO-IR 58 (G1, two bytes, 8-bit)
	gSingleByte      // an ISO 8859 part (G1), see charset.g1map
)

// singleByteSets maps the ISO-IR number of the single-byte sets to a codec.
var singleByteSets = map[string]*charmap.Charmap{
	"100": charmap.ISO8859_1, "101": charmap.ISO8859_2, "109": charmap.ISO8859_3,
	"110": charmap.ISO8859_4, "144": charmap.ISO8859_5, "127": charmap.ISO8859_6,
	"126": charmap.ISO8859_7, "138": charmap.ISO8859_8, "148": charmap.ISO8859_9,
	"203": charmap.ISO8859_15,
	// TIS 620-2533 (ISO 8859-11): Windows-874 agrees on every printable byte.
	"166": charmap.Windows874,
}

// escapes are the ISO 2022 designations DICOM allows, with what they select.
var escapes = []struct {
	seq string
	g0  bool
	set gset
	ir  string // for single-byte G1 sets
}{
	{"\x1b(B", true, gASCII, ""},
	{"\x1b(J", true, gRomaji, ""},
	{"\x1b)I", false, gKatakana, ""},
	{"\x1b$B", true, gJIS0208, ""},
	{"\x1b$(D", true, gJIS0212, ""},
	{"\x1b$)C", false, gKSX1001, ""},
	{"\x1b$)A", false, gGB2312, ""},
	{"\x1b-A", false, gSingleByte, "100"},
	{"\x1b-B", false, gSingleByte, "101"},
	{"\x1b-C", false, gSingleByte, "109"},
	{"\x1b-D", false, gSingleByte, "110"},
	{"\x1b-L", false, gSingleByte, "144"},
	{"\x1b-G", false, gSingleByte, "127"},
	{"\x1b-F", false, gSingleByte, "126"},
	{"\x1b-H", false, gSingleByte, "138"},
	{"\x1b-M", false, gSingleByte, "148"},
	{"\x1b-T", false, gSingleByte, "166"},
	{"\x1b-b", false, gSingleByte, "203"},
}

// charset decodes text values under one Specific Character Set (0008,0005).
type charset struct {
	// whole is set for the character sets that are not ISO 2022 code
	// extensions (UTF-8, GB18030, GBK): the value is decoded as a whole,
	// before splitting on backslash, because GB18030/GBK trail bytes may be 0x5C.
	whole encoding.Encoding
	utf8  bool
	// initial G0/G1 designations (from value 1 of the attribute).
	g0, g1   gset
	g1map    *charmap.Charmap
	iso2022  bool // extension escapes may appear
	isSimple bool // default repertoire only: bytes >= 0x80 read as Latin-1
}

// normalizeTerm turns the many real-world spellings of a defined term
// ("ISO-IR 100", "iso_ir100", "ISO2022 IR 87", "UTF-8") into the standard one.
func normalizeTerm(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	switch s {
	case "UTF-8", "UTF8", "ISO_IR 192", "ISO-IR 192", "ISO IR 192":
		return "ISO_IR 192"
	case "GB18030", "GBK", "GB2312", "":
		return s
	}
	k := len(s)
	for k > 0 && s[k-1] >= '0' && s[k-1] <= '9' {
		k--
	}
	digits := s[k:]
	if digits == "" {
		return s
	}
	compact := strings.NewReplacer(" ", "", "_", "", "-", "").Replace(s)
	switch {
	case strings.HasPrefix(compact, "ISO2022IR"):
		return "ISO 2022 IR " + digits
	case strings.HasPrefix(compact, "ISOIR"):
		return "ISO_IR " + digits
	}
	return s
}

// newCharset builds a decoder from the values of (0008,0005); nil or empty
// means the default repertoire. Unknown terms fall back to the default
// repertoire with Latin-1 for stray high bytes (as pydicom and dcmtk do).
//
// fallback (Options.FallbackCharset) is assumed when the attribute is absent
// or empty.
func newCharset(vals []any, fallback string) *charset {
	cs := &charset{g0: gASCII}
	terms := make([]string, len(vals))
	for i, v := range vals {
		s, _ := v.(string)
		terms[i] = normalizeTerm(s)
	}
	if len(terms) == 0 || len(terms) == 1 && terms[0] == "" {
		if fallback != "" {
			return newCharset([]any{fallback}, "")
		}
		cs.isSimple = true
		return cs
	}
	first := terms[0]
	switch first {
	case "GB2312", "ISO_IR 58":
		// Not defined terms, but written by Chinese devices; GBK is a
		// superset of GB2312 in its 8-bit form.
		cs.whole = simplifiedchinese.GBK
		return cs
	case "ISO_IR 192":
		cs.utf8 = true
		return cs
	case "GB18030":
		cs.whole = simplifiedchinese.GB18030
		return cs
	case "GBK":
		cs.whole = simplifiedchinese.GBK
		return cs
	}
	for _, t := range terms {
		if strings.HasPrefix(t, "ISO 2022") {
			cs.iso2022 = true
		}
	}
	num := ""
	if i := strings.LastIndexByte(first, ' '); i >= 0 {
		num = first[i+1:]
	}
	switch {
	case first == "" || num == "6":
		cs.isSimple = !cs.iso2022
	case num == "13":
		cs.g0, cs.g1 = gRomaji, gKatakana
	case num == "87" || num == "159":
		// Two-byte sets are only ever invoked by escape sequences; a value
		// 1 naming one (a writer error) must not turn plain ASCII into
		// kanji, so G0 starts as ASCII, as in ISO-2022-JP.
	case num == "149":
		cs.g1 = gKSX1001
	case num == "58":
		cs.g1 = gGB2312
	case singleByteSets[num] != nil:
		cs.g1, cs.g1map = gSingleByte, singleByteSets[num]
	default:
		cs.isSimple = !cs.iso2022
	}
	return cs
}

// decodeValues decodes a possibly multi-valued text value and splits it on
// backslash. pn selects the PN delimiters (^ and =) for ISO 2022 resets.
func (cs *charset) decodeValues(b []byte, pn bool) []string {
	if cs.whole != nil {
		return strings.Split(cs.decode(b, pn), `\`)
	}
	if bytes.IndexByte(b, '\\') < 0 {
		return []string{cs.decode(b, pn)}
	}
	parts := bytes.Split(b, []byte{'\\'})
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = cs.decode(p, pn)
	}
	return out
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || c == 0x1b {
			return false
		}
	}
	return true
}

// decode decodes one value (no backslash splitting) to UTF-8.
func (cs *charset) decode(b []byte, pn bool) string {
	if isASCII(b) {
		return string(b)
	}
	switch {
	case cs.utf8:
		if utf8.Valid(b) {
			return string(b)
		}
		return strings.ToValidUTF8(string(b), "\uFFFD")
	case cs.whole != nil:
		out, err := cs.whole.NewDecoder().Bytes(b)
		if err != nil {
			return latin1(b)
		}
		return string(out)
	case cs.isSimple:
		// Undeclared high bytes: UTF-8 when they form valid UTF-8 (Latin-1
		// text almost never does), else Latin-1 as pydicom and dcmtk do.
		if utf8.Valid(b) {
			return string(b)
		}
		return latin1(b)
	}
	return cs.decode2022(b, pn)
}

// decode2022 runs the ISO 2022 state machine: escape sequences designate G0
// and G1, and the delimiters (CR, LF, FF, TAB; for PN also ^ and =) return
// G0 to the set of value 1 of (0008,0005) (PS3.5 6.1.2.5.3).
func (cs *charset) decode2022(b []byte, pn bool) string {
	var sb strings.Builder
	sb.Grow(len(b) * 2)
	g0, g1, g1map := cs.g0, cs.g1, cs.g1map
	isDelim := func(c byte) bool {
		switch c {
		case '\r', '\n', '\f', '\t':
			return true
		case '^', '=':
			return pn
		}
		return false
	}
	for i := 0; i < len(b); {
		c := b[i]
		if c == 0x1b {
			matched := false
			for _, e := range escapes {
				if bytes.HasPrefix(b[i:], []byte(e.seq)) {
					if e.g0 {
						g0 = e.set
					} else {
						g1 = e.set
						g1map = singleByteSets[e.ir]
					}
					i += len(e.seq)
					matched = true
					break
				}
			}
			if !matched {
				sb.WriteRune(utf8.RuneError)
				i++
			}
			continue
		}
		if c < 0x80 {
			if isDelim(c) {
				sb.WriteByte(c)
				// G0 returns to value 1's set. G1 is kept: in 8-bit code
				// its high bytes are unambiguous, and writers that forget to
				// re-designate it after ^ (allowed by pydicom too) still
				// decode correctly.
				g0 = cs.g0
				i++
				continue
			}
			if (g0 == gJIS0208 || g0 == gJIS0212) && c >= 0x21 && c <= 0x7e {
				// Collect the run of two-byte codes and decode it as EUC-JP.
				j := i
				var run []byte
				for j+1 < len(b) && b[j] >= 0x21 && b[j] <= 0x7e && b[j+1] >= 0x21 && b[j+1] <= 0x7e && !isDelim(b[j]) {
					if g0 == gJIS0212 {
						run = append(run, 0x8f)
					}
					run = append(run, b[j]|0x80, b[j+1]|0x80)
					j += 2
				}
				if j == i { // odd trailing byte
					sb.WriteRune(utf8.RuneError)
					i++
					continue
				}
				out, err := japanese.EUCJP.NewDecoder().Bytes(run)
				if err != nil {
					sb.WriteRune(utf8.RuneError)
				} else {
					sb.Write(out)
				}
				i = j
				continue
			}
			sb.WriteByte(c)
			i++
			continue
		}
		// High byte: G1.
		switch g1 {
		case gKatakana:
			if c >= 0xa1 && c <= 0xdf {
				sb.WriteRune(rune(0xff61 + int(c) - 0xa1))
			} else {
				sb.WriteRune(utf8.RuneError)
			}
			i++
		case gSingleByte:
			sb.WriteRune(g1map.DecodeByte(c))
			i++
		case gKSX1001, gGB2312:
			j := i
			for j+1 < len(b) && b[j] >= 0xa1 && b[j+1] >= 0xa1 {
				j += 2
			}
			if j == i {
				sb.WriteRune(utf8.RuneError)
				i++
				continue
			}
			var enc encoding.Encoding = korean.EUCKR
			if g1 == gGB2312 {
				enc = simplifiedchinese.GBK
			}
			out, err := enc.NewDecoder().Bytes(b[i:j])
			if err != nil {
				sb.WriteRune(utf8.RuneError)
			} else {
				sb.Write(out)
			}
			i = j
		default:
			sb.WriteRune(rune(c)) // Latin-1 fallback
			i++
		}
	}
	return sb.String()
}

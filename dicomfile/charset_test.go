package dicomfile

import (
	"testing"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/simplifiedchinese"
)

func TestNormalizeTerm(t *testing.T) {
	for in, want := range map[string]string{
		"ISO_IR 100":     "ISO_IR 100",
		"ISO-IR 100":     "ISO_IR 100",
		"iso_ir100":      "ISO_IR 100",
		"ISO IR 144":     "ISO_IR 144",
		" ISO_IR 192 ":   "ISO_IR 192",
		"UTF-8":          "ISO_IR 192",
		"ISO 2022 IR 87": "ISO 2022 IR 87",
		"ISO2022 IR 87":  "ISO 2022 IR 87",
		"ISO_2022_IR_13": "ISO 2022 IR 13",
		"gb18030":        "GB18030",
		"GBK":            "GBK",
		"":               "",
		"WINDOWS-1252":   "WINDOWS-1252",
	} {
		if got := normalizeTerm(in); got != want {
			t.Errorf("normalizeTerm(%q) = %q, want %q", in, got, want)
		}
	}
}

func mustEncode(t *testing.T, enc interface{ Bytes([]byte) ([]byte, error) }, s string) []byte {
	t.Helper()
	b, err := enc.Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeCharsets(t *testing.T) {
	gb := mustEncode(t, simplifiedchinese.GB18030.NewEncoder(), "王^小明")
	// 丂 (U+4E02) exists only in JIS X 0212: EUC-JP gives 8F xx yy.
	eucjp := mustEncode(t, japanese.EUCJP.NewEncoder(), "丂")
	if len(eucjp) != 3 || eucjp[0] != 0x8F {
		t.Fatalf("EUC-JP of U+4E02 = % x", eucjp)
	}
	jis0212 := append([]byte("\x1b$(D"), eucjp[1]&0x7F, eucjp[2]&0x7F)
	gb2312 := append([]byte("Zhang^San=\x1b$)A"), mustEncode(t, simplifiedchinese.GBK.NewEncoder(), "张^三")...)
	// A GB18030 character whose second byte is 0x5C ('\'): 乗 = 81 5C in GBK.
	backslash := mustEncode(t, simplifiedchinese.GB18030.NewEncoder(), `乗\二`)
	for _, tc := range []struct {
		name  string
		terms []any
		raw   []byte
		pn    bool
		want  []string
		// fallback is Options.FallbackCharset
		fallback string
	}{
		{"default repertoire, stray latin-1", nil, []byte("M\xfcller"), false, []string{"Müller"}, ""},
		{"misspelled latin-1", []any{"ISO-IR 100"}, []byte("Fran\xe7ois"), false, []string{"François"}, ""},
		{"latin-2", []any{"ISO_IR 101"}, []byte("\xa3\xf3d\xbc"), false, []string{"Łódź"}, ""},
		{"cyrillic", []any{"ISO_IR 144"}, []byte("\xbb\xee\xda\xe1\xe2\xd5\xe0"), false, []string{"Люкстер"}, ""},
		{"utf-8", []any{"ISO_IR 192"}, []byte("李^雷"), true, []string{"李^雷"}, ""},
		{"utf-8 invalid", []any{"ISO_IR 192"}, []byte("a\xffb"), false, []string{"a\uFFFDb"}, ""},
		{"gb18030", []any{"GB18030"}, gb, true, []string{"王^小明"}, ""},
		{"gb18030 0x5C trail byte", []any{"GB18030"}, backslash, false, []string{"乗", "二"}, ""},
		{"iso 2022 ir 58", []any{"", "ISO 2022 IR 58"}, gb2312, true, []string{"Zhang^San=张^三"}, ""},
		{"iso 2022 ir 159", []any{"", "ISO 2022 IR 159"}, jis0212, false, []string{"丂"}, ""},
		{"iso 2022 ir 100 escape", []any{"ISO 2022 IR 6", "ISO 2022 IR 100"}, []byte("\x1b-A\xe9t\xe9"), false, []string{"été"}, ""},
		{"unknown escape", []any{"", "ISO 2022 IR 87"}, []byte("a\x1bZb"), false, []string{"a\uFFFDZb"}, ""},
		{"IR 87 as value 1 keeps ASCII", []any{"ISO 2022 IR 87"}, []byte("CT^HEAD"), true, []string{"CT^HEAD"}, ""},
		{"undeclared UTF-8", nil, []byte("李^雷"), true, []string{"李^雷"}, ""},
		{"undeclared GB18030 with fallback", nil, gb, true, []string{"王^小明"}, "GB18030"},
		{"empty charset with fallback", []any{""}, gb, true, []string{"王^小明"}, "GB18030"},
		{"declared charset beats fallback", []any{"ISO_IR 100"}, []byte("\xe9"), false, []string{"é"}, "GB18030"},
		{"GB2312 written as value 1", []any{"GB2312"}, gb, true, []string{"王^小明"}, ""},
		{"multi-valued", []any{"ISO_IR 100"}, []byte("a\\\\\xe9"), false, []string{"a", "", "é"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := newCharset(tc.terms, tc.fallback).decodeValues(tc.raw, tc.pn)
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
			}
		})
	}
}

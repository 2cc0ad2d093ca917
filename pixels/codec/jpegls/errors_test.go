package jpegls

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/huren-health/huren/pixels"
)

func readFixture(t testing.TB, name string) ([]byte, pixels.Info) {
	t.Helper()
	for _, fx := range fixtures {
		if fx.name == name {
			b, err := os.ReadFile(filepath.Join("testdata", name+".jls"))
			if err != nil {
				t.Fatal(err)
			}
			return b, fx.info()
		}
	}
	t.Fatalf("no fixture %s", name)
	return nil, pixels.Info{}
}

// markerAt returns the offset of the first marker m in the header part of
// cs (before the first scan's data).
func markerAt(t *testing.T, cs []byte, m byte) int {
	t.Helper()
	for p := 2; p+4 <= len(cs); {
		if cs[p+1] == m {
			return p
		}
		if cs[p+1] == mSOS {
			break
		}
		p += 2 + int(cs[p+2])<<8 + int(cs[p+3])
	}
	t.Fatalf("no marker %02X", m)
	return 0
}

// insertAt returns cs with seg inserted at offset p.
func insertAt(cs []byte, p int, seg ...byte) []byte {
	return append(append(append([]byte(nil), cs[:p]...), seg...), cs[p:]...)
}

func patched(cs []byte, p int, b ...byte) []byte {
	out := bytes.Clone(cs)
	copy(out[p:], b)
	return out
}

// TestBadInput: each malformed codestream or header mismatch fails with
// the right typed error and a message naming the problem.
func TestBadInput(t *testing.T) {
	gray, gi := readFixture(t, "gray8_ll")
	rgb, ri := readFixture(t, "rgb8_ilv1_ll")
	g16, g16i := readFixture(t, "gray16_ll")
	rst, rsti := readFixture(t, "gray16_rst5")
	sof := markerAt(t, gray, mSOF55)
	sos := markerAt(t, gray, mSOS)
	rsos := markerAt(t, rgb, mSOS)
	with := func(i pixels.Info, f func(*pixels.Info)) pixels.Info { f(&i); return i }
	tests := []struct {
		name string
		src  []byte
		info pixels.Info
		want error
		msg  string
	}{
		{"empty", nil, gi, pixels.ErrCorrupt, "no SOI"},
		{"no SOI", gray[2:], gi, pixels.ErrCorrupt, "no SOI"},
		{"width", gray, with(gi, func(i *pixels.Info) { i.Columns++ }), pixels.ErrCorrupt, "header says"},
		{"height", gray, with(gi, func(i *pixels.Info) { i.Rows-- }), pixels.ErrCorrupt, "header says"},
		{"samples", gray, with(gi, func(i *pixels.Info) { i.SamplesPerPixel = 3 }), pixels.ErrCorrupt, "header says"},
		{"precision", g16, with(g16i, func(i *pixels.Info) { i.BitsAllocated = 8 }), pixels.ErrCorrupt, "16-bit samples in 8-bit"},
		{"bits allocated 32", gray, with(gi, func(i *pixels.Info) { i.BitsAllocated = 32 }), pixels.ErrUnsupportedSyntax, "32 bits allocated"},
		{"precision 1", patched(gray, sof+4, 1), gi, pixels.ErrCorrupt, "precision 1"},
		{"precision 17", patched(gray, sof+4, 17), gi, pixels.ErrCorrupt, "precision 17"},
		{"SOF57", patched(gray, sof+1, mSOF57), gi, pixels.ErrUnsupportedSyntax, "part 2"},
		{"baseline SOF", patched(gray, sof+1, 0xC0), gi, pixels.ErrCorrupt, "SOF0"},
		{"second SOF", insertAt(gray, sos, gray[sof:sos]...), gi, pixels.ErrCorrupt, "second SOF"},
		{"SOS before SOF", append([]byte{0xFF, mSOI}, gray[sos:]...), gi, pixels.ErrCorrupt, "SOS before SOF"},
		{"subsampled", patched(gray, sof+11, 0x21), gi, pixels.ErrUnsupportedSyntax, "subsampled"},
		{"mapping table LSE", insertAt(gray, sos, 0xFF, mLSE, 0, 6, 2, 1, 1, 0), gi, pixels.ErrUnsupportedSyntax, "mapping table"},
		{"mapping table in SOS", patched(gray, sos+6, 1), gi, pixels.ErrUnsupportedSyntax, "mapping table 1"},
		{"part 2 LSE", insertAt(gray, sos, 0xFF, mLSE, 0, 3, 13), gi, pixels.ErrUnsupportedSyntax, "part 2"},
		{"unknown LSE", insertAt(gray, sos, 0xFF, mLSE, 0, 3, 99), gi, pixels.ErrCorrupt, "unknown type"},
		{"LSE T1", insertAt(gray, sos, 0xFF, mLSE, 0, 13, 1, 0, 0, 1, 44, 0, 0, 0, 0, 0, 0), gi, pixels.ErrCorrupt, "T1 300"},
		{"LSE MAXVAL", insertAt(gray, sos, 0xFF, mLSE, 0, 13, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0), gi, pixels.ErrCorrupt, "MAXVAL 256"},
		{"LSE RESET", insertAt(gray, sos, 0xFF, mLSE, 0, 13, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2), gi, pixels.ErrCorrupt, "RESET 2"},
		{"LSE short", insertAt(gray, sos, 0xFF, mLSE, 0, 5, 1, 0, 0), gi, pixels.ErrCorrupt, "preset coding parameters of 3 bytes"},
		{"point transform", patched(gray, sos+9, 1), gi, pixels.ErrUnsupportedSyntax, "point transform"},
		{"NEAR", patched(gray, sos+7, 200), gi, pixels.ErrCorrupt, "NEAR 200"},
		{"ILV 3", patched(rgb, rsos+12, 3), ri, pixels.ErrCorrupt, "interleave mode 3"},
		{"ILV on one component", patched(gray, sos+8, 1), gi, pixels.ErrCorrupt, "single-component scan"},
		{"unknown scan component", patched(gray, sos+5, 9), gi, pixels.ErrCorrupt, "component 9 not in the frame"},
		{"component twice", patched(rgb, rsos+7, rgb[rsos+5]), ri, pixels.ErrCorrupt, "twice in a scan"},
		{"HP colour transform 4", insertAt(gray, sos, 0xFF, mAPP8, 0, 7, 'm', 'r', 'f', 'x', 4), gi, pixels.ErrUnsupportedSyntax, "colour transform 4"},
		{"HP on one component", insertAt(gray, sos, 0xFF, mAPP8, 0, 7, 'm', 'r', 'f', 'x', 1), gi, pixels.ErrUnsupportedSyntax, "1-component scan"},
		{"segment length", patched(gray, sof+2, 0xFF, 0xFF), gi, pixels.ErrCorrupt, "segment length"},
		{"unexpected marker", insertAt(gray, sos, 0xFF, 0x01), gi, pixels.ErrCorrupt, "unexpected marker"},
		{"garbage before a marker", insertAt(gray, sos, 0x00), gi, pixels.ErrCorrupt, "expected a marker"},
		{"truncated scan", gray[:len(gray)/2], gi, pixels.ErrCorrupt, ""},
		{"wrong RST", bytes.Replace(rst, []byte{0xFF, 0xD1}, []byte{0xFF, 0xD5}, 1), rsti, pixels.ErrCorrupt, "missing RST1"},
		{"no RST", bytes.Replace(rst, []byte{0xFF, 0xD0}, []byte{0x00, 0x00}, 1), rsti, pixels.ErrCorrupt, ""},
		{"missing scans", rgb[:rsos], ri, pixels.ErrCorrupt, "ends without EOI"},
		{"DNL mismatch", insertAt(gray, len(gray)-2, 0xFF, mDNL, 0, 4, 0, 9), gi, pixels.ErrCorrupt, "DNL says 9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Decoder{}.Decode(tc.src, tc.info)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v (frame %v), want %v", err, f != nil, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err %q does not say %q", err, tc.msg)
			}
		})
	}
}

// TestOptionalSyntax covers legal variants the fixtures lack: fill bytes
// before markers, a missing EOI, height 0 in SOF (DNL), oversize
// dimensions in an LSE, a 3-byte DRI, comments and application segments.
func TestOptionalSyntax(t *testing.T) {
	gray, gi := readFixture(t, "gray8_ll")
	want, err := Decoder{}.Decode(gray, gi)
	if err != nil {
		t.Fatal(err)
	}
	sof := markerAt(t, gray, mSOF55)
	sos := markerAt(t, gray, mSOS)
	rst, rsti := readFixture(t, "gray16_rst5")
	rwant, err := Decoder{}.Decode(rst, rsti)
	if err != nil {
		t.Fatal(err)
	}
	dri := markerAt(t, rst, mDRI)
	tests := []struct {
		name string
		src  []byte
		info pixels.Info
		want *pixels.Frame
	}{
		{"fill bytes", insertAt(gray, sos, 0xFF, 0xFF, 0xFF), gi, want},
		{"no EOI", gray[:len(gray)-2], gi, want},
		{"trailing padding", append(bytes.Clone(gray), 0), gi, want},
		{"height 0 and DNL", insertAt(patched(gray, sof+5, 0, 0), len(gray)-2, 0xFF, mDNL, 0, 4, 0, byte(gi.Rows)), gi, want},
		{"oversize dimensions", insertAt(patched(gray, sof+5, 0, 0, 0, 0), sos, 0xFF, mLSE, 0, 10, 4, 3, 0, 0, byte(gi.Rows), 0, 0, byte(gi.Columns)), gi, want},
		{"comment and APP", insertAt(gray, sos, 0xFF, mCOM, 0, 4, 'h', 'i', 0xFF, 0xE3, 0, 2), gi, want},
		{"3-byte DRI", insertAt(insertAt(rst[:dri], dri, 0xFF, mDRI, 0, 5, 0, 0, 5), dri+7, rst[dri+6:]...), rsti, rwant},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Decoder{}.Decode(tc.src, tc.info)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f.Data, tc.want.Data) {
				t.Fatal("decoded image differs")
			}
		})
	}
}

// TestTruncatedAndCorrupt cuts every fixture at every length and flips
// every byte of a few: the decoder returns a typed error or, when only
// padding or EOI was lost, the same image — and never panics.
func TestTruncatedAndCorrupt(t *testing.T) {
	for _, fx := range fixtures {
		src, info := readFixture(t, fx.name)
		full, err := Decoder{}.Decode(src, info)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(src); n++ {
			if n > 64 && n < len(src)-16 && n%7 != 0 { // the header and the end byte by byte
				continue
			}
			f, err := Decoder{}.Decode(src[:n], info)
			if err != nil {
				if !errors.Is(err, pixels.ErrCorrupt) && !errors.Is(err, pixels.ErrUnsupportedSyntax) {
					t.Fatalf("%s cut at %d: untyped error %v", fx.name, n, err)
				}
				continue
			}
			if !bytes.Equal(f.Data, full.Data) {
				t.Fatalf("%s cut at %d of %d decodes to a different image without error", fx.name, n, len(src))
			}
		}
	}
	for _, name := range []string{"gray16_rst5", "rgb8_ilv2_near3", "gray10_presets"} {
		src, info := readFixture(t, name)
		for i := range src {
			for _, x := range []byte{0x01, 0xFF} {
				b := bytes.Clone(src)
				b[i] ^= x
				if f, err := (Decoder{}).Decode(b, info); err != nil {
					if !errors.Is(err, pixels.ErrCorrupt) && !errors.Is(err, pixels.ErrUnsupportedSyntax) {
						t.Fatalf("%s byte %d ^%02X: untyped error %v", name, i, x, err)
					}
				} else if int64(len(f.Data)) != info.FrameBytes() {
					t.Fatalf("%s byte %d ^%02X: %d bytes", name, i, x, len(f.Data))
				}
			}
		}
	}
}

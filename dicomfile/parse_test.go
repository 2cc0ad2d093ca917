package dicomfile

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/huren-health/huren/dicomjson"
	"github.com/huren-health/huren/errkind"
)

func readCorpus(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/corpus/" + rel)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every prefix of a valid file must fail with a typed error (never panic,
// never succeed silently when the caller says how big the file is).
func TestTruncatedAtEveryByte(t *testing.T) {
	for _, rel := range []string{
		"dicom/modality/MR_small.dcm",                      // explicit LE, native
		"dicom/ts/qa_ts_2_implicit_le.dcm",                 // implicit LE
		"dicom/modality/ExplVR_BigEnd.dcm",                 // explicit BE
		"dicom/ts/CT0012.fragmented_no_bot_jpeg_ls.81.dcm", // encapsulated, multi-frame
		"dicom/charset/chrSQEncoding1.dcm",                 // sequences
		"dicom/edge/UN_sequence.dcm",                       // UN undefined-length sequence
		"dicom/ts/image_dfl.dcm",                           // deflated
		"dicom/modality/test-SR.dcm",                       // deep SR tree
		"dicom/series/ge_epi_fmri_mr_0005/axial_epi_fmri_sequential_i_to_s-00001.dcm",
	} {
		data := readCorpus(t, rel)
		full, err := Parse(bytes.NewReader(data), int64(len(data)), Options{})
		if err != nil {
			t.Fatal(err)
		}
		fullJSON, _ := json.Marshal(full.Dataset)
		// Every byte of the header region, then 400 cuts spread over the rest.
		var cuts []int
		for n := 0; n < len(data) && n < 4096; n++ {
			cuts = append(cuts, n)
		}
		for k := 0; k < 400 && len(data) > 4096; k++ {
			cuts = append(cuts, 4096+k*(len(data)-4096)/400)
		}
		for _, n := range cuts {
			f, err := Parse(bytes.NewReader(data[:n]), int64(len(data)), Options{})
			if err == nil {
				// Only bytes after the end of a deflate stream may be lost
				// without consequence; then the result must be complete.
				if j, _ := json.Marshal(f.Dataset); f.Deflated && bytes.Equal(j, fullJSON) {
					continue
				}
				t.Fatalf("%s cut at %d of %d: parsed without error (%d elements)", rel, n, len(data), len(f.Dataset))
			}
			if errkind.Of(err) == errkind.Other {
				t.Fatalf("%s cut at %d: untyped error %v", rel, n, err)
			}
			if n > 200 && !errors.Is(err, ErrTruncated) {
				t.Fatalf("%s cut at %d: %v, want ErrTruncated", rel, n, err)
			}
		}
	}
}

// Without a known size, a cut inside an element is still detected.
func TestTruncatedUnknownSize(t *testing.T) {
	data := readCorpus(t, "dicom/modality/CT_small.dcm")
	_, err := Parse(bytes.NewReader(data[:len(data)-1000]), -1, Options{})
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("got %v, want ErrTruncated", err)
	}
	if !strings.Contains(err.Error(), "Pixel Data (7FE0,0010)") {
		t.Errorf("message does not name the element: %v", err)
	}
	// The same file read one byte at a time parses identically.
	a, err := Parse(bytes.NewReader(data), -1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(iotest.OneByteReader(bytes.NewReader(data)), -1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a.Dataset)
	jb, _ := json.Marshal(b.Dataset)
	if !bytes.Equal(ja, jb) || a.Pixels.Frames[0][0] != b.Pixels.Frames[0][0] {
		t.Error("one-byte reads gave a different result")
	}
}

func TestNotDICOM(t *testing.T) {
	for name, in := range map[string][]byte{
		"empty":  nil,
		"short":  []byte("DICM"),
		"text":   []byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + strings.Repeat("x", 200)),
		"zeros":  make([]byte, 300),
		"random": bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef, 0x12, 0x34, 0x56, 0x78}, 64),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(bytes.NewReader(in), int64(len(in)), Options{})
			if err == nil {
				t.Fatal("parsed")
			}
			if errkind.Of(err) != errkind.Invalid {
				t.Fatalf("kind %v: %v", errkind.Of(err), err)
			}
		})
	}
}

// explicitLE builds a Part 10 file from explicit VR LE elements.
type builder struct {
	bytes.Buffer
	bo binary.ByteOrder
}

func newPart10(ts string) *builder {
	b := &builder{bo: binary.LittleEndian}
	b.Write(make([]byte, 128))
	b.WriteString("DICM")
	b.elem(0x0002, 0x0010, "UI", padUID(ts))
	return b
}

func padUID(s string) []byte {
	if len(s)%2 == 1 {
		s += "\x00"
	}
	return []byte(s)
}

func (b *builder) elem(g, e uint16, vr string, val []byte) *builder {
	var h [12]byte
	b.bo.PutUint16(h[0:], g)
	b.bo.PutUint16(h[2:], e)
	copy(h[4:], vr)
	if vrInfo[vr] {
		b.bo.PutUint32(h[8:], uint32(len(val)))
		b.Write(h[:12])
	} else {
		b.bo.PutUint16(h[6:], uint16(len(val)))
		b.Write(h[:8])
	}
	b.Write(val)
	return b
}

func (b *builder) str(g, e uint16, vr, s string) *builder {
	if len(s)%2 == 1 {
		s += " "
	}
	return b.elem(g, e, vr, []byte(s))
}

func (b *builder) parse(t *testing.T, opts Options) *File {
	t.Helper()
	f, err := Parse(bytes.NewReader(b.Bytes()), int64(b.Len()), opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func u16(vals ...uint16) []byte {
	out := make([]byte, 2*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint16(out[2*i:], v)
	}
	return out
}

func TestJSONEncoding(t *testing.T) {
	b := newPart10(TSExplicitLittle)
	b.str(0x0008, 0x0005, "CS", "ISO_IR 192")
	b.str(0x0008, 0x0018, "UI", "1.2.3.4")
	b.str(0x0008, 0x0060, "CS", "CT")
	b.elem(0x0008, 0x0070, "LO", nil) // empty
	b.str(0x0010, 0x0010, "PN", `Wang^Xiaodong=王^小東\Li^Lei`)
	b.str(0x0018, 0x0050, "DS", " 2.50 ")
	b.str(0x0018, 0x1160, "SH", `A\\B`)
	b.str(0x0020, 0x0013, "IS", "+12")
	b.str(0x0020, 0x0037, "DS", `1\0\0\0\1\-0`)
	b.elem(0x0028, 0x0009, "AT", u16(0x0018, 0x1063))
	b.elem(0x0028, 0x0010, "US", u16(512))
	b.elem(0x0028, 0x0106, "SS", u16(0xFFFF))
	nan := make([]byte, 8)
	binary.LittleEndian.PutUint64(nan, 0x7FF8000000000001)
	b.elem(0x0018, 0x9087, "FD", nan)
	b.elem(0x0029, 0x0010, "UN", []byte("SIEMENS ")) // private creator as UN
	b.elem(0x0029, 0x1001, "OB", []byte{1, 2, 3, 4})
	b.str(0x0020, 0x4000, "LT", "line one\r\nline two  ")
	b.str(0x0018, 0x1030, "LO", "bad number")
	b.elem(0x0018, 0x9902, "UV", binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 7), 1<<60))
	b.str(0x0020, 0x0012, "IS", "1A")
	f := b.parse(t, Options{})
	got, err := json.Marshal(f.Dataset)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"00080005":{"vr":"CS","Value":["ISO_IR 192"]},"00080018":{"vr":"UI","Value":["1.2.3.4"]},"00080060":{"vr":"CS","Value":["CT"]},"00080070":{"vr":"LO"},` +
		`"00100010":{"vr":"PN","Value":[{"Alphabetic":"Wang^Xiaodong","Ideographic":"王^小東"},{"Alphabetic":"Li^Lei"}]},` +
		`"00181030":{"vr":"LO","Value":["bad number"]},"00189902":{"vr":"UV","Value":[7,"1152921504606846976"]},"00181160":{"vr":"SH","Value":["A",null,"B"]},` +
		`"00189087":{"vr":"FD","Value":["NaN"]},"00180050":{"vr":"DS","Value":[2.5]},` +
		`"00200012":{"vr":"IS","Value":["1A"]},"00200013":{"vr":"IS","Value":[12]},"00200037":{"vr":"DS","Value":[1,0,0,0,1,-0]},` +
		`"00204000":{"vr":"LT","Value":["line one\r\nline two"]},"00280009":{"vr":"AT","Value":["00181063"]},` +
		`"00280010":{"vr":"US","Value":[512]},"00280106":{"vr":"SS","Value":[-1]},` +
		`"00290010":{"vr":"LO","Value":["SIEMENS"]},"00291001":{"vr":"OB","InlineBinary":"AQIDBA=="}}`
	var w, g map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	wj, _ := json.Marshal(w)
	gj, _ := json.Marshal(g)
	if string(wj) != string(gj) {
		t.Errorf("got  %s\nwant %s", gj, wj)
	}
	if f.HasFileMeta != true || f.TransferSyntax != TSExplicitLittle || f.SOPInstanceUID != "1.2.3.4" {
		t.Errorf("summary: %+v", f)
	}
	if _, ok := f.Dataset["00020010"]; ok {
		t.Error("File Meta element in Dataset")
	}
}

// Bulk references point at exactly the value bytes: re-parsing with a
// threshold that inlines everything must give the same bytes.
func TestBulkOffsets(t *testing.T) {
	checked := 0
	defer func() {
		if checked < 5 {
			t.Errorf("only %d bulk values checked", checked)
		}
	}()
	for _, rel := range []string{
		"dicom/modality/MR-SIEMENS-DICOM-WithOverlays.dcm",
		"dicom/modality/CT_small.dcm",
		"dicom/ts/qa_ts_2_implicit_le.dcm",
		"dicom/modality/emri_small.dcm",
		"dicom/modality/test-SR.dcm",
		"dicom/modality/OBXXXX1A_rle_2frame.dcm",
		"dicom/ts/JPGExtended.dcm",
	} {
		path := "testdata/corpus/" + rel
		data, err := os.ReadFile(path)
		if err != nil {
			continue // not in the lean subset
		}
		bulk, err := Parse(bytes.NewReader(data), int64(len(data)), Options{BulkThreshold: 16})
		if err != nil {
			t.Fatal(err)
		}
		inline, err := Parse(bytes.NewReader(data), int64(len(data)), Options{BulkThreshold: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		checked += len(bulk.Bulk)
		for _, ref := range bulk.Bulk {
			el := lookupPath(t, inline.Dataset, ref.TagPath)
			if ref.TagPath == "7FE00010" {
				if el.BulkDataURI != "7FE00010" {
					t.Errorf("%s: Pixel Data not bulk at any threshold", rel)
				}
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(el.InlineBinary)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, data[ref.Offset:ref.Offset+ref.Length]) {
				t.Errorf("%s %s: bulk range %d+%d does not hold the value", rel, ref.TagPath, ref.Offset, ref.Length)
			}
			if e := lookupPath(t, bulk.Dataset, ref.TagPath); e.BulkDataURI != ref.TagPath || e.VR != ref.VR {
				t.Errorf("%s: element at %s is %+v", rel, ref.TagPath, e)
			}
		}
	}
}

func lookupPath(t *testing.T, ds dicomjson.Dataset, path string) *dicomjson.Element {
	t.Helper()
	parts := strings.Split(path, ".")
	for i := 0; ; i += 2 {
		el := ds[parts[i]]
		if el == nil {
			t.Fatalf("no element %s (path %s)", parts[i], path)
		}
		if i == len(parts)-1 {
			return el
		}
		var idx int
		for _, c := range parts[i+1] {
			idx = idx*10 + int(c-'0')
		}
		ds = el.Value[idx].(dicomjson.Dataset)
	}
}

func TestNestedBulkPath(t *testing.T) {
	// (0054,0016) SQ > item > (0018,1072)… here: (0040,A730) > item > (0029,1001) OB 40 bytes
	item := &builder{bo: binary.LittleEndian}
	item.elem(0x0029, 0x1001, "OB", bytes.Repeat([]byte{7}, 40))
	seq := &builder{bo: binary.LittleEndian}
	seq.Write([]byte{0xFE, 0xFF, 0x00, 0xE0})
	seq.Write(binary.LittleEndian.AppendUint32(nil, uint32(item.Len())))
	seq.Write(item.Bytes())
	b := newPart10(TSExplicitLittle)
	b.elem(0x0040, 0xA730, "SQ", seq.Bytes())
	f := b.parse(t, Options{BulkThreshold: 8})
	if len(f.Bulk) != 1 || f.Bulk[0].TagPath != "0040A730.0.00291001" {
		t.Fatalf("bulk %+v", f.Bulk)
	}
	if got := b.Bytes()[f.Bulk[0].Offset : f.Bulk[0].Offset+f.Bulk[0].Length]; !bytes.Equal(got, bytes.Repeat([]byte{7}, 40)) {
		t.Errorf("bulk bytes % x", got)
	}
}

func TestLimits(t *testing.T) {
	data := readCorpus(t, "dicom/modality/CT_small.dcm")
	_, err := Parse(bytes.NewReader(data), int64(len(data)), Options{MaxHeaderBytes: 200})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxHeaderBytes: %v", err)
	}
	// A deflated file inflating past the cap.
	dfl := readCorpus(t, "dicom/ts/image_dfl.dcm")
	_, err = Parse(bytes.NewReader(dfl), int64(len(dfl)), Options{MaxInflatedBytes: 1000})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxInflatedBytes: %v", err)
	}
	// Millions of empty items cost memory even though no value is read.
	var items bytes.Buffer
	for i := 0; i < 100000; i++ {
		items.Write([]byte{0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0})
	}
	many := newPart10(TSExplicitLittle)
	many.elem(0x0040, 0xA730, "SQ", items.Bytes())
	_, err = Parse(bytes.NewReader(many.Bytes()), int64(many.Len()), Options{MaxHeaderBytes: 1 << 20})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("100000 items under a 1 MiB budget: %v", err)
	}
	// Nesting depth.
	inner := []byte{}
	for i := 0; i < 100; i++ {
		item := &builder{bo: binary.LittleEndian}
		item.elem(0x0040, 0xA730, "SQ", inner)
		seq := &builder{bo: binary.LittleEndian}
		seq.Write([]byte{0xFE, 0xFF, 0x00, 0xE0})
		seq.Write(binary.LittleEndian.AppendUint32(nil, uint32(item.Len())))
		seq.Write(item.Bytes())
		inner = seq.Bytes()
	}
	b := newPart10(TSExplicitLittle)
	b.elem(0x0040, 0xA730, "SQ", inner)
	_, err = Parse(bytes.NewReader(b.Bytes()), int64(b.Len()), Options{})
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("deep nesting: %v", err)
	}
}

func TestUnsupportedTransferSyntax(t *testing.T) {
	b := newPart10("1.2.3.999")
	b.str(0x0008, 0x0018, "UI", "1.2.3")
	_, err := Parse(bytes.NewReader(b.Bytes()), int64(b.Len()), Options{})
	if !errors.Is(err, ErrUnsupportedTransferSyntax) || errkind.Of(err) != errkind.Unsupported {
		t.Fatalf("got %v", err)
	}
}

func TestValidateUIDs(t *testing.T) {
	for _, tc := range []struct {
		uid string
		ok  bool
	}{
		{"1.2.840.10008.5.1.4.1.1.2", true},
		{"999.999.01.23.45.6789", true}, // leading zeros: tolerated (real devices)
		{"1.2.3.", false},
		{".1.2", false},
		{"1..2", false},
		{"1.2.3a", false},
		{"1.2.3/../../x", false},
		{strings.Repeat("1", 65), false},
		{strings.Repeat("1", 64), true},
	} {
		if err := CheckUID(tc.uid); (err == nil) != tc.ok {
			t.Errorf("CheckUID(%q) = %v", tc.uid, err)
		}
	}
	f := &File{SOPClassUID: "1.2", SOPInstanceUID: "1.2.x", StudyInstanceUID: ""}
	err := Validate(f)
	if !errors.Is(err, ErrBadUID) || !errors.Is(err, ErrMissingUID) || errors.Is(err, ErrBadPixelData) {
		t.Fatalf("Validate: %v", err)
	}
	ct := &File{SOPClassUID: "1.2.840.10008.5.1.4.1.1.2", SOPInstanceUID: "1.2", StudyInstanceUID: "1.3", SeriesInstanceUID: "1.4"}
	if err := Validate(ct); !errors.Is(err, ErrBadPixelData) || errors.Is(err, ErrMissingUID) {
		t.Fatalf("CT without Pixel Data: %v", err)
	}
	sr := &File{SOPClassUID: "1.2.840.10008.5.1.4.1.1.88.11", SOPInstanceUID: "1.2", StudyInstanceUID: "1.3", SeriesInstanceUID: "1.4"}
	if err := Validate(sr); err != nil {
		t.Fatalf("SR: %v", err)
	}
}

func TestDeflatedOffsets(t *testing.T) {
	data := readCorpus(t, "dicom/ts/image_dfl.dcm")
	f, err := Parse(bytes.NewReader(data), int64(len(data)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Deflated || f.Pixels == nil {
		t.Fatalf("Deflated=%v Pixels=%v", f.Deflated, f.Pixels)
	}
	logical, err := io.ReadAll(InflatedReader(bytes.NewReader(data), f))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(logical)) != f.Size {
		t.Errorf("inflated stream %d bytes, parser saw %d", len(logical), f.Size)
	}
	r := f.Pixels.Frames[0][0]
	if r.Offset+r.Length > int64(len(logical)) || r.Length != 512*512 {
		t.Errorf("frame range %+v", r)
	}
}

// Regression: a huge Number of Frames must not overflow the length check
// or size an allocation.
func TestHugeNumberOfFrames(t *testing.T) {
	for _, nf := range []string{"9223372036854775807", "4611686018427387904", "2147483648", "-5"} {
		b := newPart10(TSExplicitLittle)
		b.str(0x0028, 0x0008, "IS", nf)
		b.elem(0x0028, 0x0010, "US", u16(65535))
		b.elem(0x0028, 0x0011, "US", u16(65535))
		b.elem(0x0028, 0x0100, "US", u16(64))
		b.elem(0x7FE0, 0x0010, "OW", make([]byte, 64))
		f := b.parse(t, Options{})
		if f.Pixels == nil || !errors.Is(f.Pixels.FramesErr, ErrBadPixelData) || f.Pixels.Frames != nil {
			t.Errorf("NumberOfFrames %s: %+v", nf, f.Pixels)
		}
	}
}

// In Implicit VR, "US or SS" attributes follow Pixel Representation.
func TestImplicitUSorSS(t *testing.T) {
	var b bytes.Buffer
	put := func(g, e uint16, val []byte) {
		b.Write(binary.LittleEndian.AppendUint16(nil, g))
		b.Write(binary.LittleEndian.AppendUint16(nil, e))
		b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(val))))
		b.Write(val)
	}
	put(0x0008, 0x0060, []byte("CT"))
	put(0x0028, 0x0103, u16(1))
	put(0x0028, 0x0106, u16(0xFC18)) // -1000
	f, err := Parse(bytes.NewReader(b.Bytes()), int64(b.Len()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e := f.Dataset["00280106"]; e.VR != "SS" || e.Value[0] != int64(-1000) {
		t.Errorf("Smallest Image Pixel Value = %+v", e)
	}
	if !f.TransferSyntaxDetected || f.TransferSyntax != TSImplicitLittle || f.HasFileMeta {
		t.Errorf("detection: %+v", f)
	}
}

// Seeking over large values (seekable inputs) and reading over them give
// the same result, also when the input does not start at offset 0.
func TestSeekAndReadAgree(t *testing.T) {
	data := readCorpus(t, "dicom/modality/CT1_UNC.explicit_little_endian.dcm")
	prefixed := append(bytes.Repeat([]byte{0xAA}, 50), data...)
	sr := bytes.NewReader(prefixed)
	if _, err := sr.Seek(50, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	seek, err := Parse(sr, -1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	read, err := Parse(iotest.OneByteReader(bytes.NewReader(data)), int64(len(data)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(seek)
	jr, _ := json.Marshal(read)
	if !bytes.Equal(js, jr) {
		t.Errorf("seek and read differ:\n%s\n%s", js, jr)
	}
	if seek.Pixels.Frames[0][0].Length != 512*512*2 {
		t.Errorf("frame %+v", seek.Pixels.Frames[0][0])
	}
	// Pixel data cut short behind a seekable reader with an honest size.
	cut := data[:len(data)-10]
	if _, err := Parse(bytes.NewReader(cut), int64(len(cut)), Options{}); !errors.Is(err, ErrTruncated) {
		t.Errorf("cut pixel data: %v", err)
	}
}

// Zero padding after the last element (some writers pad to a block size)
// is accepted; data after the padding is not.
func TestTrailingZeroPadding(t *testing.T) {
	data := readCorpus(t, "dicom/modality/MR_small.dcm")
	padded := append(bytes.Clone(data), make([]byte, 10000)...)
	for _, r := range []io.Reader{bytes.NewReader(padded), struct{ io.Reader }{bytes.NewReader(padded)}} {
		f, err := Parse(r, int64(len(padded)), Options{})
		if err != nil || f.Size != int64(len(padded)) {
			t.Fatalf("padded: %v", err)
		}
	}
	bad := append(bytes.Clone(padded), 1)
	if _, err := Parse(bytes.NewReader(bad), int64(len(bad)), Options{}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("data after padding: %v", err)
	}
	if _, err := Parse(bytes.NewReader(padded[:len(padded)-5]), int64(len(padded)), Options{}); !errors.Is(err, ErrTruncated) {
		t.Fatalf("short padding: %v", err)
	}
}

// Parse reads exactly size bytes of a longer stream (e.g. one object among
// several), seekable or not.
func TestReadsOnlySize(t *testing.T) {
	data := readCorpus(t, "dicom/modality/CT_small.dcm")
	longer := append(bytes.Clone(data), []byte("NEXT OBJECT: not part of this file")...)
	for name, r := range map[string]io.Reader{
		"seekable": bytes.NewReader(longer),
		"stream":   struct{ io.Reader }{bytes.NewReader(longer)},
	} {
		f, err := Parse(r, int64(len(data)), Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.Size != int64(len(data)) {
			t.Errorf("%s: consumed %d of %d", name, f.Size, len(data))
		}
	}
}

// A File Meta that names the wrong little-endian syntax (explicit vs
// implicit) is corrected from the bytes, as real devices get this wrong.
func TestDeclaredSyntaxContradicted(t *testing.T) {
	b := newPart10(TSImplicitLittle)
	b.str(0x0008, 0x0018, "UI", "1.2.3")
	b.str(0x0010, 0x0010, "PN", "Doe^John")
	f := b.parse(t, Options{})
	if f.SOPInstanceUID != "1.2.3" || f.Dataset.String("00100010") != "Doe^John" {
		t.Errorf("declared implicit, written explicit: %+v", f.Dataset)
	}
	var imp bytes.Buffer
	imp.Write(make([]byte, 128))
	imp.WriteString("DICM")
	meta := newPart10(TSExplicitLittle).Bytes()[132:]
	imp.Write(meta)
	for _, e := range []struct {
		g, el uint16
		v     string
	}{{0x0008, 0x0018, "1.2.3\x00"}, {0x0010, 0x0010, "Doe^John"}} {
		imp.Write(binary.LittleEndian.AppendUint16(nil, e.g))
		imp.Write(binary.LittleEndian.AppendUint16(nil, e.el))
		imp.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(e.v))))
		imp.WriteString(e.v)
	}
	f, err := Parse(bytes.NewReader(imp.Bytes()), int64(imp.Len()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f.SOPInstanceUID != "1.2.3" || f.Dataset.String("00100010") != "Doe^John" || f.Dataset["00100010"].VR != "PN" {
		t.Errorf("declared explicit, written implicit: %+v", f.Dataset)
	}
}

// Explicit VR Big Endian: numbers and AT decoded in big-endian order,
// InlineBinary of OW/OF given little-endian (PS3.18 F.2.7), OB untouched.
func TestBigEndianValues(t *testing.T) {
	b := &builder{bo: binary.BigEndian}
	b.Write(make([]byte, 128))
	b.WriteString("DICM")
	meta := &builder{bo: binary.LittleEndian}
	meta.elem(0x0002, 0x0010, "UI", padUID(TSExplicitBig))
	b.Write(meta.Bytes())
	b.elem(0x0028, 0x0009, "AT", []byte{0x00, 0x18, 0x10, 0x63})
	b.elem(0x0028, 0x0010, "US", []byte{0x02, 0x00})
	b.elem(0x0029, 0x1001, "OW", []byte{0x01, 0x02, 0x03, 0x04})
	b.elem(0x0029, 0x1002, "OF", []byte{0x01, 0x02, 0x03, 0x04})
	b.elem(0x0029, 0x1003, "OB", []byte{0x01, 0x02, 0x03, 0x04})
	f := b.parse(t, Options{})
	for tag, want := range map[string]string{
		"00280009": "00181063", "00280010": "512",
	} {
		if got := f.Dataset.String(tag); got != want {
			t.Errorf("%s = %q, want %q", tag, got, want)
		}
	}
	for tag, want := range map[string][]byte{
		"00291001": {0x02, 0x01, 0x04, 0x03},
		"00291002": {0x04, 0x03, 0x02, 0x01},
		"00291003": {0x01, 0x02, 0x03, 0x04},
	} {
		got, _ := base64.StdEncoding.DecodeString(f.Dataset[tag].InlineBinary)
		if !bytes.Equal(got, want) {
			t.Errorf("%s InlineBinary % x, want % x", tag, got, want)
		}
	}
	if f.TransferSyntax != TSExplicitBig || IsEncapsulatedTS(TSExplicitBig) || !IsEncapsulatedTS("1.2.840.10008.1.2.4.90") ||
		TransferSyntaxName(TSExplicitBig) != "Explicit VR Big Endian" || IsEncapsulatedTS("1.2.3") {
		t.Error("transfer syntax helpers")
	}
}

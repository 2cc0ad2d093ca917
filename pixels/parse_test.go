package pixels

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// dataset builder for synthetic files (explicit VR little endian).
type builder struct{ bytes.Buffer }

func (b *builder) tag(g, e uint16) {
	binary.Write(&b.Buffer, binary.LittleEndian, g)
	binary.Write(&b.Buffer, binary.LittleEndian, e)
}

func (b *builder) short(g, e uint16, vr string, val []byte) {
	b.tag(g, e)
	b.WriteString(vr)
	binary.Write(&b.Buffer, binary.LittleEndian, uint16(len(val)))
	b.Write(val)
}

func (b *builder) long(g, e uint16, vr string, val []byte, undefined bool) {
	b.tag(g, e)
	b.WriteString(vr)
	b.Write([]byte{0, 0})
	n := uint32(len(val))
	if undefined {
		n = 0xFFFFFFFF
	}
	binary.Write(&b.Buffer, binary.LittleEndian, n)
	b.Write(val)
}

func us(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

func item(b []byte) []byte {
	out := []byte{0xFE, 0xFF, 0x00, 0xE0}
	out = binary.LittleEndian.AppendUint32(out, uint32(len(b)))
	return append(out, b...)
}

// file builds a PS3.10 file with the given syntax, image attributes and
// pixel data value (encapsulated when items != nil).
func file(ts string, rows, cols, frames, bits int, extra func(*builder), pixel []byte, items [][]byte) []byte {
	var meta builder
	if len(ts)%2 == 1 {
		ts += "\x00"
	}
	meta.short(0x0002, 0x0010, "UI", []byte(ts))
	var ds builder
	ds.short(0x0028, 0x0002, "US", us(1))
	ds.short(0x0028, 0x0004, "CS", []byte("MONOCHROME2 "))
	if frames > 1 {
		n := []byte(itoa(frames))
		if len(n)%2 == 1 {
			n = append(n, ' ')
		}
		ds.short(0x0028, 0x0008, "IS", n)
	}
	ds.short(0x0028, 0x0010, "US", us(uint16(rows)))
	ds.short(0x0028, 0x0011, "US", us(uint16(cols)))
	ds.short(0x0028, 0x0100, "US", us(uint16(bits)))
	ds.short(0x0028, 0x0101, "US", us(uint16(bits)))
	ds.short(0x0028, 0x0102, "US", us(uint16(bits-1)))
	ds.short(0x0028, 0x0103, "US", us(0))
	if extra != nil {
		extra(&ds)
	}
	if items != nil {
		var enc []byte
		for _, it := range items {
			enc = append(enc, item(it)...)
		}
		enc = append(enc, 0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0)
		ds.long(0x7FE0, 0x0010, "OB", enc, true)
	} else {
		ds.long(0x7FE0, 0x0010, "OB", pixel, false)
	}
	out := make([]byte, 128)
	out = append(out, "DICM"...)
	out = append(out, meta.Bytes()...)
	return append(out, ds.Bytes()...)
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func jpegish(tag byte, n int) []byte { // a fragment that starts a JPEG codestream
	return append([]byte{0xFF, 0xD8, tag}, bytes.Repeat([]byte{tag}, n-3)...)
}

func TestFrameAssembly(t *testing.T) {
	a1, a2 := jpegish(1, 6), bytes.Repeat([]byte{1}, 4) // frame 1 = two fragments
	b1 := jpegish(2, 8)                                 // frame 2
	c1, c2 := jpegish(3, 4), bytes.Repeat([]byte{3}, 2) // frame 3
	frags := [][]byte{a1, a2, b1, c1, c2}
	want := [][]byte{append(append([]byte{}, a1...), a2...), b1, append(append([]byte{}, c1...), c2...)}
	// Offsets of frame starts relative to the first fragment's item tag.
	offs := []uint32{0, uint32(8 + len(a1) + 8 + len(a2)), uint32(8 + len(a1) + 8 + len(a2) + 8 + len(b1))}
	bot := []byte{}
	for _, o := range offs {
		bot = binary.LittleEndian.AppendUint32(bot, o)
	}
	eot := []byte{}
	eotLen := []byte{}
	for i, o := range offs {
		eot = binary.LittleEndian.AppendUint64(eot, uint64(o))
		eotLen = binary.LittleEndian.AppendUint64(eotLen, uint64(len(want[i])))
	}
	// A BOT that lies (frame 2 offset pointing mid-fragment) must fall back.
	badBOT := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 0), 3), 5)
	cases := []struct {
		name  string
		extra func(*builder)
		items [][]byte
	}{
		{"basic offset table", nil, append([][]byte{bot}, frags...)},
		{"no offset table: markers", nil, append([][]byte{{}}, frags...)},
		{"broken offset table: markers", nil, append([][]byte{badBOT}, frags...)},
		{"extended offset table", func(b *builder) {
			b.long(0x7FE0, 0x0001, "OV", eot, false)
			b.long(0x7FE0, 0x0002, "OV", eotLen, false)
		}, append([][]byte{{}}, frags...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img, err := Parse(file(JPEGBaseline, 2, 2, 3, 8, tc.extra, nil, tc.items), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range want {
				got, err := img.RawFrame(i + 1)
				if err != nil || !bytes.Equal(got, w) {
					t.Errorf("frame %d = % x, %v; want % x", i+1, got, err, w)
				}
			}
			if _, err := img.RawFrame(4); !errors.Is(err, ErrFrameRange) {
				t.Errorf("frame 4: %v", err)
			}
		})
	}
	// One fragment per frame, no markers (RLE style).
	img, err := Parse(file(RLELossless, 2, 2, 2, 8, nil, nil, [][]byte{{}, {9, 9}, {8, 8}}), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := img.RawFrame(2); !bytes.Equal(f, []byte{8, 8}) {
		t.Errorf("fragment-per-frame: % x", f)
	}
	// Fewer frames than declared.
	if _, err := Parse(file(JPEGBaseline, 2, 2, 3, 8, nil, nil, [][]byte{{}, a1, a2}), Limits{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("missing frames: %v", err)
	}
}

func TestNative(t *testing.T) {
	// 1-bit, 2×3 pixels × 3 frames = 18 bits: frames do not start on bytes.
	bits := []byte{0b10110101, 0b01100011, 0b00000010}
	img, err := Parse(file(ExplicitVRLittleEndian, 2, 3, 3, 1, nil, bits, nil), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	all := []byte{}
	for i := 0; i < 18; i++ {
		all = append(all, bits[i/8]>>(i%8)&1)
	}
	for n := 1; n <= 3; n++ {
		f, err := img.DecodeFrame(n, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Data, all[(n-1)*6:n*6]) {
			t.Errorf("frame %d = %v, want %v", n, f.Data, all[(n-1)*6:n*6])
		}
	}
	// Short native data is refused before anything is allocated from it.
	if _, err := Parse(file(ExplicitVRLittleEndian, 512, 512, 1, 16, nil, make([]byte, 100), nil), Limits{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("short native data: %v", err)
	}
	// A huge declared frame is refused by the limits.
	if _, err := Parse(file(JPEGBaseline, 65535, 65535, 1, 16, nil, nil, [][]byte{{}, jpegish(1, 4)}), Limits{MaxFrameBytes: 1 << 20}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge frame: %v", err)
	}
	// Unknown syntax is named.
	img, err = Parse(file("1.2.840.10008.1.2.4.110", 2, 2, 1, 8, nil, nil, [][]byte{{}, {1, 2}}), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := img.DecodeFrame(1, Registry{}); !errors.Is(err, ErrUnsupportedSyntax) || !bytes.Contains([]byte(err.Error()), []byte("1.2.840.10008.1.2.4.110")) {
		t.Errorf("unknown syntax: %v", err)
	}
}

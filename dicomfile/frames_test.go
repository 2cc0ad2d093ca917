package dicomfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
)

// encapsulated builds a Part 10 file whose Pixel Data holds the given
// fragments after a Basic Offset Table, optionally with an Extended Offset
// Table, and returns it with the offsets of each fragment's bytes.
func encapsulated(ts string, frames int, bot []uint32, eot []uint64, frags ...[]byte) ([]byte, []int64) {
	b := newPart10(ts)
	b.str(0x0028, 0x0008, "IS", itoa(frames))
	b.elem(0x0028, 0x0010, "US", u16(8))
	b.elem(0x0028, 0x0011, "US", u16(8))
	b.elem(0x0028, 0x0100, "US", u16(8))
	if eot != nil {
		var o, l []byte
		for _, v := range eot {
			o = binary.LittleEndian.AppendUint64(o, v)
			l = binary.LittleEndian.AppendUint64(l, 0)
		}
		b.elem(0x7FE0, 0x0001, "OV", o)
		b.elem(0x7FE0, 0x0002, "OV", l)
	}
	b.Write([]byte{0xE0, 0x7F, 0x10, 0x00, 'O', 'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF})
	item := func(v []byte) int64 {
		b.Write([]byte{0xFE, 0xFF, 0x00, 0xE0})
		b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(v))))
		off := int64(b.Len())
		b.Write(v)
		return off
	}
	var botBytes []byte
	for _, v := range bot {
		botBytes = binary.LittleEndian.AppendUint32(botBytes, v)
	}
	item(botBytes)
	var offs []int64
	for _, f := range frags {
		offs = append(offs, item(f))
	}
	b.Write([]byte{0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0})
	return b.Bytes(), offs
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var s []byte
	for ; n > 0; n /= 10 {
		s = append([]byte{byte('0' + n%10)}, s...)
	}
	return string(s)
}

func TestEncapsulatedFrames(t *testing.T) {
	jpeg := func(n int) []byte { return append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, make([]byte, n)...) }
	cont := func(n int) []byte { return bytes.Repeat([]byte{0x11}, n) }
	const jpegTS = "1.2.840.10008.1.2.4.50"
	// Fragment item sizes: 8-byte header + value.
	for _, tc := range []struct {
		name   string
		ts     string
		frames int
		bot    []uint32
		eot    []uint64
		frags  [][]byte
		want   [][]int // fragment indexes per frame
		err    error
	}{
		{"BOT groups fragments", jpegTS, 2, []uint32{0, 8 + 12 + 8 + 6}, nil,
			[][]byte{jpeg(8), cont(6), jpeg(4)}, [][]int{{0, 1}, {2}}, nil},
		{"EOT wins over empty BOT", jpegTS, 2, nil, []uint64{0, 8 + 12},
			[][]byte{jpeg(8), jpeg(8)}, [][]int{{0}, {1}}, nil},
		{"single frame takes every fragment", jpegTS, 1, nil, nil,
			[][]byte{jpeg(8), cont(6), cont(2)}, [][]int{{0, 1, 2}}, nil},
		{"one fragment per frame", jpegTS, 3, nil, nil,
			[][]byte{jpeg(2), jpeg(2), jpeg(2)}, [][]int{{0}, {1}, {2}}, nil},
		{"start markers", jpegTS, 2, nil, nil,
			[][]byte{jpeg(2), cont(4), jpeg(2), cont(2)}, [][]int{{0, 1}, {2, 3}}, nil},
		{"JPEG 2000 markers", "1.2.840.10008.1.2.4.90", 2, nil, nil,
			[][]byte{{0xFF, 0x4F, 0xFF, 0x51}, cont(4), {0xFF, 0x4F, 0xFF, 0x51, 0}, cont(2)}, [][]int{{0, 1}, {2, 3}}, nil},
		{"too few fragments", jpegTS, 3, nil, nil,
			[][]byte{jpeg(2), jpeg(2)}, nil, ErrBadPixelData},
		{"markers disagree with frame count", jpegTS, 2, nil, nil,
			[][]byte{jpeg(2), cont(4), cont(2)}, nil, ErrBadPixelData},
		{"BOT entry count wrong", jpegTS, 2, []uint32{0}, nil,
			[][]byte{jpeg(2), jpeg(2)}, nil, ErrBadPixelData},
		{"BOT points inside a fragment", jpegTS, 2, []uint32{0, 5}, nil,
			[][]byte{jpeg(2), jpeg(2)}, nil, ErrBadPixelData},
		{"RLE needs one fragment per frame", TSRLE, 2, nil, nil,
			[][]byte{cont(64), cont(8), cont(64)}, nil, ErrBadPixelData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, offs := encapsulated(tc.ts, tc.frames, tc.bot, tc.eot, tc.frags...)
			f, err := Parse(bytes.NewReader(data), int64(len(data)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			pi := f.Pixels
			if pi == nil || !pi.Encapsulated {
				t.Fatalf("pixels %+v", pi)
			}
			if tc.err != nil {
				if !errors.Is(pi.FramesErr, tc.err) || pi.Frames != nil {
					t.Fatalf("FramesErr %v, Frames %v", pi.FramesErr, pi.Frames)
				}
				if !errors.Is(Validate(f), tc.err) {
					t.Fatal("Validate does not report it")
				}
				return
			}
			if pi.FramesErr != nil {
				t.Fatal(pi.FramesErr)
			}
			if len(pi.Frames) != len(tc.want) {
				t.Fatalf("%d frames, want %d: %v", len(pi.Frames), len(tc.want), pi.Frames)
			}
			for i, idxs := range tc.want {
				if len(pi.Frames[i]) != len(idxs) {
					t.Fatalf("frame %d: %v, want fragments %v", i, pi.Frames[i], idxs)
				}
				for j, k := range idxs {
					want := ByteRange{Offset: offs[k], Length: int64(len(tc.frags[k]))}
					if pi.Frames[i][j] != want {
						t.Errorf("frame %d part %d = %+v, want %+v", i, j, pi.Frames[i][j], want)
					}
				}
			}
			// The bulk reference spans the items through the delimiter.
			ref := f.Bulk[len(f.Bulk)-1]
			if ref.TagPath != "7FE00010" || !ref.Encapsulated || ref.Offset+ref.Length != int64(len(data)) {
				t.Errorf("bulk %+v, file %d bytes", ref, len(data))
			}
		})
	}
}

// Parse shares pooled buffers: run it concurrently under -race.
func TestParseConcurrent(t *testing.T) {
	data := readCorpus(t, "dicom/modality/CT_small.dcm")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				f, err := Parse(bytes.NewReader(data), int64(len(data)), Options{})
				if err != nil || f.SOPInstanceUID == "" {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BitsAllocated 1 frames that start mid-byte (2×3 pixels: 6 bits a frame).
func TestOneBitFrames(t *testing.T) {
	const rows, cols, nf = 2, 3, 4
	bits := make([]byte, rows*cols*nf)
	packed := make([]byte, (len(bits)+7)/8+1) // +1: even length
	for k := range bits {
		bits[k] = byte(k*7%5) & 1
		packed[k/8] |= bits[k] << (k % 8)
	}
	b := newPart10(TSExplicitLittle)
	b.str(0x0028, 0x0008, "IS", "4")
	b.elem(0x0028, 0x0010, "US", u16(rows))
	b.elem(0x0028, 0x0011, "US", u16(cols))
	b.elem(0x0028, 0x0100, "US", u16(1))
	b.elem(0x7FE0, 0x0010, "OB", packed)
	data := b.Bytes()
	f := b.parse(t, Options{})
	pi := f.Pixels
	if pi.FramesErr != nil || len(pi.Frames) != nf || len(pi.FrameBitOffset) != nf {
		t.Fatalf("%+v", pi)
	}
	for i := 0; i < nf; i++ {
		r := pi.Frames[i][0]
		for j := 0; j < rows*cols; j++ {
			k := pi.FrameBitOffset[i] + j
			got := data[r.Offset+int64(k/8)] >> (k % 8) & 1
			if int64(k/8) >= r.Length || got != bits[i*rows*cols+j] {
				t.Fatalf("frame %d pixel %d: range %+v bit offset %d gives %d, want %d", i, j, r, pi.FrameBitOffset[i], got, bits[i*rows*cols+j])
			}
		}
	}
}

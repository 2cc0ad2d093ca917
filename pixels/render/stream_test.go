package render_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/huren-health/huren/pixels"
	"github.com/huren-health/huren/pixels/render"
)

// TestGreyStreamMatchesRender: streaming a native frame row by row (in
// chunks of any number of rows) gives exactly Render's pixels for every
// parameter shape: natural size, box reduction, Catmull-Rom resize,
// requested and file windows, sigmoid, Modality and VOI LUTs, MONOCHROME1,
// signed data; and declines (ErrNeedsFrame) what it cannot stream.
func TestGreyStreamMatchesRender(t *testing.T) {
	params := []render.Params{
		{},
		{Window: &pixels.Window{Center: 40, Width: 400}},
		{Window: &pixels.Window{Center: 600, Width: 1200}, Function: render.Sigmoid, Width: 64, Height: 64},
		{Window: &pixels.Window{Center: 100, Width: 300}, Function: render.LinearExact, Width: 300, Height: 300},
		{Width: 40, Height: 100},
	}
	files := []string{
		"modality/CT1_UNC.explicit_little_endian.dcm",
		"modality/CT_small.dcm",
		"modality/CR-MONO1-10-chest", // MONOCHROME1
		"modality/mlut_18.dcm",       // Modality LUT
		"modality/vlut_04.dcm",       // VOI LUT
		"modality/emri_small.dcm",
		"modality/MR_small.dcm",
		"modality/SC_rgb_small_odd.dcm", // colour: declined
		"modality/color-pl.dcm",         // palette: declined
	}
	streamed, declined, scanned := 0, 0, 0
	for _, file := range files {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "dicom", file))
		if err != nil {
			t.Fatal(err)
		}
		hdr, err := pixels.ParseHeader(b, int64(len(b)), pixels.Limits{})
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		img, f := load(t, file)
		for i, p := range params {
			t.Run(fmt.Sprintf("%s/%d", file, i), func(t *testing.T) {
				s, err := render.NewGreyStream(hdr.Info, hdr.FrameDisplay(1), p)
				d := hdr.FrameDisplay(1)
				hasVOI := p.Window != nil || (len(d.Windows) > 0 && d.Windows[0].Width > 0) || (d.VOILUT != nil && len(d.VOILUT.Data) > 0)
				want := hdr.SamplesPerPixel != 1 || hdr.Photometric == "PALETTE COLOR"
				if errors.Is(err, render.ErrNeedsFrame) != want {
					t.Fatalf("ErrNeedsFrame = %v, want %v (err %v)", !want, want, err)
				}
				if want {
					declined++
					return
				}
				streamed++
				if err != nil {
					t.Fatal(err)
				}
				off, size, err := hdr.NativeFrameRange(1)
				if err != nil {
					t.Fatal(err)
				}
				if s.NeedsScan() == hasVOI {
					t.Fatalf("NeedsScan = %v with a VOI = %v", s.NeedsScan(), hasVOI)
				}
				if s.NeedsScan() {
					scanned++
					for raw, chunk := b[off:off+size], 2; len(raw) > 0; chunk = chunk*2 + 1 {
						n := min(len(raw), chunk*s.RowBytes())
						if err := s.Scan(raw[:n]); err != nil {
							t.Fatal(err)
						}
						raw = raw[n:]
					}
				}
				raw := b[off : off+size]
				for chunk := 1; len(raw) > 0; chunk = chunk*3 + 1 { // uneven chunks
					n := min(len(raw), chunk*s.RowBytes())
					if err := s.Write(raw[:n]); err != nil {
						t.Fatal(err)
					}
					raw = raw[n:]
				}
				got, err := s.Image()
				if err != nil {
					t.Fatal(err)
				}
				ref, err := render.Render(f, img.FrameDisplay(1), p)
				if err != nil {
					t.Fatal(err)
				}
				g, ok1 := got.(*image.Gray)
				r, ok2 := ref.(*image.Gray)
				if !ok1 || !ok2 || g.Rect != r.Rect || !bytes.Equal(g.Pix, r.Pix) {
					t.Fatalf("streamed %T %v differs from Render's %T %v", got, got.Bounds(), ref, ref.Bounds())
				}
			})
		}
	}
	if streamed < 20 || declined < 10 || scanned < 5 {
		t.Errorf("%d cases streamed (%d scanned first), %d declined: the corpus no longer covers all three", streamed, scanned, declined)
	}
}

// TestGreyStreamMisuse: partial rows, too many rows and too few rows are
// errors, never a panic or a half image.
func TestGreyStreamMisuse(t *testing.T) {
	info := pixels.Info{Rows: 4, Columns: 3, SamplesPerPixel: 1, BitsAllocated: 16, BitsStored: 12, Photometric: "MONOCHROME2", Frames: 1}
	p := render.Params{Window: &pixels.Window{Center: 100, Width: 200}}
	s, err := render.NewGreyStream(info, pixels.Display{RescaleSlope: 1}, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(make([]byte, 5)); !errors.Is(err, pixels.ErrCorrupt) {
		t.Errorf("partial row: %v", err)
	}
	if err := s.Write(make([]byte, 18)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Image(); !errors.Is(err, pixels.ErrCorrupt) {
		t.Errorf("3 of 4 rows: %v", err)
	}
	if err := s.Write(make([]byte, 12)); !errors.Is(err, pixels.ErrCorrupt) {
		t.Errorf("rows past the end: %v", err)
	}
	if _, err := render.NewGreyStream(info, pixels.Display{}, render.Params{Quality: 101}); !errors.Is(err, render.ErrParams) {
		t.Errorf("bad params: %v", err)
	}
	// No window anywhere: every row must be scanned before the first Write.
	s, err = render.NewGreyStream(info, pixels.Display{RescaleSlope: 1}, render.Params{})
	if err != nil || !s.NeedsScan() {
		t.Fatalf("NeedsScan %v, %v", s != nil && s.NeedsScan(), err)
	}
	if err := s.Scan(make([]byte, 18)); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(make([]byte, 6)); !errors.Is(err, pixels.ErrCorrupt) {
		t.Errorf("write after 3 of 4 rows scanned: %v", err)
	}
	if err := s.Scan(make([]byte, 12)); !errors.Is(err, pixels.ErrCorrupt) {
		t.Errorf("scan past the end: %v", err)
	}
	if err := s.Scan(make([]byte, 6)); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(make([]byte, 6)); err != nil {
		t.Fatal(err)
	}
	if err := s.Scan(make([]byte, 6)); err == nil {
		t.Error("scan after the first write: no error")
	}
	info.BitsAllocated = 32
	if _, err := render.NewGreyStream(info, pixels.Display{}, p); !errors.Is(err, render.ErrNeedsFrame) {
		t.Errorf("32-bit: %v", err)
	}
}

// TestGreyStreamStripedJPEG: a large full-size JPEG rendering is encoded
// strip by strip while rows arrive, and its bytes are exactly those of
// Encode(Render(frame)) whatever the chunking (rows split across strips,
// a last strip shorter than the others).
func TestGreyStreamStripedJPEG(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	const cols, rows = 1203, 1011
	f := &pixels.Frame{Rows: rows, Columns: cols, SamplesPerPixel: 1, BitsAllocated: 16, BitsStored: 14, Photometric: "MONOCHROME1", Data: make([]byte, cols*rows*2)}
	for i := 0; i < cols*rows; i++ {
		x, y := i%cols, i/cols
		binary.LittleEndian.PutUint16(f.Data[2*i:], uint16((x*7+y*3+(x*y)%97)%16384))
	}
	d := pixels.Display{RescaleSlope: 1, Windows: []pixels.Window{{Center: 8192, Width: 12000}}}
	info := pixels.Info{Rows: rows, Columns: cols, Frames: 1, SamplesPerPixel: 1, BitsAllocated: 16, BitsStored: 14, Photometric: "MONOCHROME1"}
	for _, p := range []render.Params{{}, {Quality: 75}} {
		im, err := render.Render(f, d, p)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := render.Encode(&want, im, p); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(want.Bytes()[:1024], []byte{0xFF, 0xDD}) {
			t.Fatal("reference is not striped: the test no longer covers the pipeline")
		}
		for _, chunkRows := range []int{1, 7, 128, 300, rows} {
			s, err := render.NewGreyStream(info, d, p)
			if err != nil {
				t.Fatal(err)
			}
			for y := 0; y < rows; y += chunkRows {
				if err := s.Write(f.Data[y*cols*2 : min(rows, y+chunkRows)*cols*2]); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Image(); err == nil {
				t.Error("Image of a striped JPEG stream: no error")
			}
			var got bytes.Buffer
			if err := s.Encode(&got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("q%d, chunks of %d rows: streamed JPEG (%d bytes) differs from Encode(Render) (%d bytes)", p.Quality, chunkRows, got.Len(), want.Len())
			}
		}
	}
	// Encode before every row arrived is an error.
	s, err := render.NewGreyStream(info, d, render.Params{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(f.Data[:cols*2*200]); err != nil {
		t.Fatal(err)
	}
	if err := s.Encode(io.Discard); !errors.Is(err, pixels.ErrCorrupt) {
		t.Errorf("encode after 200 of %d rows: %v", rows, err)
	}
}

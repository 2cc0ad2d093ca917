package j2k

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/huren-health/huren/pixels"
)

// benchDecoders are the decoders the benchmarks compare: the wasm build
// always, the native OpenJPEG with -tags huren_openjpeg (cgo_bench_test.go).
var benchDecoders = []struct {
	name   string
	decode func(src []byte, info pixels.Info) (*pixels.Frame, error)
}{
	{"wasm", func(src []byte, info pixels.Info) (*pixels.Frame, error) {
		return decodeWasm(context.Background(), src, info)
	}},
}

// dxInfo is a 2,500×3,000 12-bit DX detector frame.
var dxInfo = pixels.Info{
	TransferSyntax: pixels.JPEG2000Lossless, Rows: 3000, Columns: 2500, Frames: 1, SamplesPerPixel: 1,
	BitsAllocated: 16, BitsStored: 12, HighBit: 11, Photometric: "MONOCHROME2",
}

// dxImage synthesises a DX-like frame: a smooth exposure falloff, bright
// "bone" bands, a collimation border and quantum noise, so the wavelet
// coder sees realistic entropy (about 6 bits/pixel lossless), not a flat
// image.
func dxImage() []uint16 {
	w, h := dxInfo.Columns, dxInfo.Rows
	r := rand.New(rand.NewPCG(13, 2026))
	px := make([]uint16, w*h)
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w)-0.5, float64(y)/float64(h)-0.5
			v := 2600 - 1800*(fx*fx+fy*fy)
			v += 700 * math.Max(0, math.Sin(float64(y)/37)) * math.Exp(-fx*fx*18)
			v += 300 * math.Sin(float64(x)/90+float64(y)/140)
			if x < 120 || x >= w-120 || y < 150 || y >= h-150 {
				v = 300
			}
			v += r.NormFloat64() * math.Sqrt(math.Max(v, 1)) * 0.8
			px[y*w+x] = uint16(min(max(v, 0), 4095))
		}
	}
	return px
}

// writePGM writes a 16-bit binary PGM (big-endian samples).
func writePGM(path string, px []uint16, w, h int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	fmt.Fprintf(bw, "P5\n%d %d\n4095\n", w, h)
	var b [2]byte
	for _, v := range px {
		binary.BigEndian.PutUint16(b[:], v)
		bw.Write(b[:])
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type benchFrame struct {
	src  []byte
	info pixels.Info
	want []byte // little-endian samples for a lossless check; nil if unknown
}

var (
	dxOnce   sync.Once
	dxFrames map[string]benchFrame
	dxErr    error
)

// largeFrames encodes the synthetic DX frame with Debian's encoders, in a
// temporary directory (never in git): J2K lossless with opj_compress
// (libopenjp2-tools) and HTJ2K lossless with ojph_compress
// (openjph-tools). A missing tool skips that frame.
func largeFrames(b testing.TB) map[string]benchFrame {
	dxOnce.Do(func() {
		dir, err := os.MkdirTemp("", "huren-j2k-bench")
		if err != nil {
			dxErr = err
			return
		}
		defer os.RemoveAll(dir)
		px := dxImage()
		want := make([]byte, 2*len(px))
		for i, v := range px {
			binary.LittleEndian.PutUint16(want[2*i:], v)
		}
		pgm := filepath.Join(dir, "dx.pgm")
		if dxErr = writePGM(pgm, px, dxInfo.Columns, dxInfo.Rows); dxErr != nil {
			return
		}
		dxFrames = map[string]benchFrame{}
		for _, enc := range []struct {
			name, tool, out string
			args            []string
			ts              string
		}{
			{"dx_j2k_lossless", "opj_compress", "dx.j2k", nil, pixels.JPEG2000Lossless},
			{"dx_htj2k_lossless", "ojph_compress", "dx.j2c", []string{"-reversible", "true"}, pixels.HTJ2KLossless},
		} {
			if _, err := exec.LookPath(enc.tool); err != nil {
				continue
			}
			out := filepath.Join(dir, enc.out)
			cmd := exec.Command(enc.tool, append([]string{"-i", pgm, "-o", out}, enc.args...)...)
			if msg, err := cmd.CombinedOutput(); err != nil {
				dxErr = fmt.Errorf("%s: %v: %s", enc.tool, err, msg)
				return
			}
			src, err := os.ReadFile(out)
			if err != nil {
				dxErr = err
				return
			}
			info := dxInfo
			info.TransferSyntax = enc.ts
			dxFrames[enc.name] = benchFrame{src: src, info: info, want: want}
		}
	})
	if dxErr != nil {
		b.Fatal(dxErr)
	}
	return dxFrames
}

// BenchmarkDecode decodes a 2,500×3,000 12-bit DX frame (J2K lossless and
// HTJ2K lossless) and the corpus' own HTJ2K and lossy J2K frames with every
// decoder of the build. Run with -tags huren_openjpeg for the native
// OpenJPEG side by side.
func BenchmarkDecode(b *testing.B) {
	cases := map[string]benchFrame{}
	for k, v := range largeFrames(b) {
		cases[k] = v
	}
	for _, fr := range corpusFrames(b) {
		switch fr.name {
		case "dicom/ts/HTJ2K_08_RGB.dcm":
			cases["htj2k_rgb_480x640"] = benchFrame{src: fr.src, info: fr.info}
		case "dicom/modality/RG3_J2KI.dcm":
			cases["cr_j2k_lossy_1760"] = benchFrame{src: fr.src, info: fr.info}
		}
	}
	if _, err := getEngine(); err != nil { // compile outside the timings
		b.Fatal(err)
	}
	for _, name := range []string{"dx_j2k_lossless", "dx_htj2k_lossless", "htj2k_rgb_480x640", "cr_j2k_lossy_1760"} {
		fr, ok := cases[name]
		if !ok {
			continue
		}
		for _, d := range benchDecoders {
			b.Run(name+"/"+d.name, func(b *testing.B) {
				f, err := d.decode(fr.src, fr.info)
				if err != nil {
					b.Fatal(err)
				}
				if fr.want != nil && !bytes.Equal(f.Data, fr.want) {
					b.Fatal("lossless decode differs from the encoded image")
				}
				b.SetBytes(int64(len(f.Data)))
				b.ResetTimer()
				cpu := processCPU()
				n := 0
				for b.Loop() {
					if _, err := d.decode(fr.src, fr.info); err != nil {
						b.Fatal(err)
					}
					n++
				}
				b.ReportMetric(float64((processCPU()-cpu).Milliseconds())/float64(n), "cpu-ms/op")
			})
		}
	}
}

package jpegls

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/huren-health/huren/pixels"
)

// fixture describes one generated codestream in testdata (see
// testdata/README.md; TestRegenerateFixtures writes them with CharLS).
type fixture struct {
	name                         string
	width, height, bits, comps   int
	near, ilv                    int
	t1, t2, t3, reset, transform int
	maxval                       int // LSE MAXVAL, 0 = 2^bits-1
	restart                      int // rows per restart interval (strips spliced with RSTm)
}

// maxv is the largest sample value of the fixture's image.
func (f fixture) maxv() int {
	if f.maxval != 0 {
		return f.maxval
	}
	return 1<<f.bits - 1
}

var fixtures = []fixture{
	{name: "gray8_ll", width: 61, height: 37, bits: 8, comps: 1},
	{name: "gray8_near2", width: 61, height: 37, bits: 8, comps: 1, near: 2},
	{name: "gray12_ll", width: 64, height: 40, bits: 12, comps: 1},
	{name: "gray16_ll", width: 57, height: 43, bits: 16, comps: 1},
	{name: "gray16_near3", width: 57, height: 43, bits: 16, comps: 1, near: 3},
	{name: "gray2_ll", width: 33, height: 17, bits: 2, comps: 1},
	{name: "gray5_near1", width: 33, height: 17, bits: 5, comps: 1, near: 1},
	{name: "gray10_presets", width: 48, height: 32, bits: 10, comps: 1, t1: 5, t2: 20, t3: 70, reset: 32},
	{name: "gray16_reset200_near2", width: 48, height: 32, bits: 16, comps: 1, near: 2, reset: 200},
	{name: "gray8_maxval200", width: 48, height: 32, bits: 8, comps: 1, maxval: 200},
	{name: "gray12_maxval3000_near2", width: 48, height: 32, bits: 12, comps: 1, maxval: 3000, near: 2},
	{name: "rgb8_ilv1_maxval100_near1", width: 40, height: 24, bits: 8, comps: 3, ilv: 1, near: 1, maxval: 100},
	{name: "gray1x1", width: 1, height: 1, bits: 8, comps: 1},
	{name: "gray16_1x50", width: 1, height: 50, bits: 16, comps: 1},
	{name: "rgb8_ilv0_ll", width: 45, height: 29, bits: 8, comps: 3, ilv: 0},
	{name: "rgb8_ilv1_ll", width: 45, height: 29, bits: 8, comps: 3, ilv: 1},
	{name: "rgb8_ilv2_ll", width: 45, height: 29, bits: 8, comps: 3, ilv: 2},
	{name: "rgb8_ilv0_near3", width: 45, height: 29, bits: 8, comps: 3, ilv: 0, near: 3},
	{name: "rgb8_ilv1_near2", width: 45, height: 29, bits: 8, comps: 3, ilv: 1, near: 2},
	{name: "rgb8_ilv2_near3", width: 45, height: 29, bits: 8, comps: 3, ilv: 2, near: 3},
	{name: "rgb16_ilv1_ll", width: 30, height: 21, bits: 16, comps: 3, ilv: 1},
	{name: "rgb12_ilv2_near2", width: 30, height: 21, bits: 12, comps: 3, ilv: 2, near: 2},
	{name: "rgb8_50x1_ilv2", width: 50, height: 1, bits: 8, comps: 3, ilv: 2},
	{name: "rgb8_hp1_ilv2", width: 40, height: 24, bits: 8, comps: 3, ilv: 2, transform: 1},
	{name: "rgb8_hp2_ilv1", width: 40, height: 24, bits: 8, comps: 3, ilv: 1, transform: 2},
	{name: "rgb8_hp3_ilv2", width: 40, height: 24, bits: 8, comps: 3, ilv: 2, transform: 3},
	{name: "rgb16_hp3_ilv1", width: 40, height: 24, bits: 16, comps: 3, ilv: 1, transform: 3},
	{name: "gray16_rst5", width: 57, height: 43, bits: 16, comps: 1, restart: 5},
	{name: "gray8_rst3_near2", width: 61, height: 37, bits: 8, comps: 1, near: 2, restart: 3},
	{name: "rgb8_ilv0_rst4", width: 45, height: 29, bits: 8, comps: 3, ilv: 0, restart: 4},
	{name: "rgb8_ilv1_rst3", width: 45, height: 29, bits: 8, comps: 3, ilv: 1, restart: 3},
	{name: "rgb8_ilv2_rst7_near2", width: 45, height: 29, bits: 8, comps: 3, ilv: 2, near: 2, restart: 7},
}

func (f fixture) info() pixels.Info {
	ba, ph := 8, "MONOCHROME2"
	if f.bits > 8 {
		ba = 16
	}
	if f.comps == 3 {
		ph = "RGB"
	}
	return pixels.Info{Rows: f.height, Columns: f.width, Frames: 1, SamplesPerPixel: f.comps,
		BitsAllocated: ba, BitsStored: f.bits, HighBit: f.bits - 1, Photometric: ph}
}

// synth makes the fixture's source image, samples interleaved per pixel:
// flat tiles (run mode), smooth gradients with mild noise (regular mode,
// small errors) and pure noise (escape codes), different per component.
func synth(f fixture) []int {
	h := fnv.New64a()
	h.Write([]byte(f.name))
	rng := rand.New(rand.NewPCG(h.Sum64(), 1))
	maxv := f.maxv()
	out := make([]int, f.width*f.height*f.comps)
	for y := 0; y < f.height; y++ {
		for x := 0; x < f.width; x++ {
			for c := 0; c < f.comps; c++ {
				var v int
				switch (x/8 + y/8 + c) % 3 {
				case 0:
					v = (c + 1) * maxv / 5
				case 1:
					v = (x*maxv/max(1, f.width) + y*maxv/max(1, f.height)) / 2
					v += rng.IntN(maxv/32+2) - maxv/64
				default:
					v = rng.IntN(maxv + 1)
				}
				out[(y*f.width+x)*f.comps+c] = min(max(v, 0), maxv)
			}
		}
	}
	return out
}

// frameSamples reads Frame.Data back into ints.
func frameSamples(f *pixels.Frame) []int {
	if f.BitsAllocated == 8 {
		out := make([]int, len(f.Data))
		for i, b := range f.Data {
			out[i] = int(b)
		}
		return out
	}
	out := make([]int, len(f.Data)/2)
	for i := range out {
		out[i] = int(binary.LittleEndian.Uint16(f.Data[2*i:]))
	}
	return out
}

// charlsSums reads testdata/charls.sha256: sha256 of CharLS's decode of
// each fixture, in Frame layout.
func charlsSums(t *testing.T) map[string]string {
	t.Helper()
	fh, err := os.Open("testdata/charls.sha256")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 {
			sums[f[1]] = f[0]
		}
	}
	return sums
}

// TestFixtures decodes every generated codestream: lossless ones exactly
// to the source image, near-lossless ones within NEAR of it, and all
// bit-identical to CharLS's decode.
func TestFixtures(t *testing.T) {
	sums := charlsSums(t)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("testdata", fx.name+".jls"))
			if err != nil {
				t.Fatal(err)
			}
			f, err := Decoder{}.Decode(src, fx.info())
			if err != nil {
				t.Fatal(err)
			}
			got, want := frameSamples(f), synth(fx)
			if len(got) != len(want) {
				t.Fatalf("%d samples, want %d", len(got), len(want))
			}
			bad := 0
			for i := range got {
				if d := got[i] - want[i]; d > fx.near || d < -fx.near {
					if bad++; bad <= 3 {
						t.Errorf("sample %d (pixel %d, comp %d): %d, source %d, NEAR %d", i, i/fx.comps, i%fx.comps, got[i], want[i], fx.near)
					}
				}
			}
			if bad > 0 {
				t.Fatalf("%d samples off", bad)
			}
			sum := sha256.Sum256(f.Data)
			if h := hex.EncodeToString(sum[:]); h != sums[fx.name+".jls"] {
				t.Errorf("sha256 %s, CharLS %s", h, sums[fx.name+".jls"])
			}
			if fx.transform != 0 && f.Photometric != "RGB" {
				t.Errorf("photometric %s after HP%d", f.Photometric, fx.transform)
			}
		})
	}
}

// TestConcurrent decodes fixtures from several goroutines at once (the
// lossless quantiser tables are shared between calls): run with -race.
func TestConcurrent(t *testing.T) {
	type job struct {
		src  []byte
		info pixels.Info
		want []byte
	}
	var jobs []job
	for _, fx := range fixtures {
		src, info := readFixture(t, fx.name)
		f, err := Decoder{}.Decode(src, info)
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, job{src, info, f.Data})
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4*len(jobs))
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, j := range jobs {
				f, err := Decoder{}.Decode(j.src, j.info)
				if err != nil || !bytes.Equal(f.Data, j.want) {
					errs <- fmt.Sprintf("concurrent decode differs: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

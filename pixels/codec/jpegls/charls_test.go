//go:build cgo && huren_charls

package jpegls

import (
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// BenchmarkDecodeCTCharLS is BenchmarkDecodeCT through CharLS via cgo.
func BenchmarkDecodeCTCharLS(b *testing.B) { benchDecode(b, CharLS{}, ctSlice) }

// BenchmarkDecodeFilesCharLS is BenchmarkDecodeFiles through CharLS.
func BenchmarkDecodeFilesCharLS(b *testing.B) { benchFilesDecode(b, CharLS{}) }

var regen = flag.Bool("regen", false, "rewrite testdata/*.jls and charls.sha256 with CharLS")

// TestRegenerateFixtures writes the fixtures of TestFixtures (go test
// -tags huren_charls -run TestRegenerateFixtures -regen) and records the
// sha256 of CharLS's own decode of each file.
func TestRegenerateFixtures(t *testing.T) {
	if !*regen {
		t.Skip("pass -regen to rewrite testdata")
	}
	var sums strings.Builder
	for _, fx := range fixtures {
		cs, err := encodeFixture(fx)
		if err != nil {
			t.Fatalf("%s: %v", fx.name, err)
		}
		name := fx.name + ".jls"
		if err := os.WriteFile(filepath.Join("testdata", name), cs, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := CharLS{}.Decode(cs, fx.info())
		if err != nil {
			t.Fatalf("%s: CharLS decode: %v", fx.name, err)
		}
		if fx.near == 0 && !slices.Equal(frameSamples(f), synth(fx)) {
			t.Fatalf("%s: CharLS round trip is not lossless", fx.name)
		}
		sum := sha256.Sum256(f.Data)
		fmt.Fprintf(&sums, "%x  %s\n", sum, name)
	}
	if err := os.WriteFile("testdata/charls.sha256", []byte(sums.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// encodeFixture encodes the fixture's source with CharLS. CharLS 2.4
// writes no restart markers, so a restart fixture is encoded as strips of
// fx.restart rows, and their entropy-coded segments are joined with RSTm
// markers under one header with a DRI: a restart resets every decoder
// state (contexts, run index, line buffers), so each interval is exactly
// an image of its own.
func encodeFixture(fx fixture) ([]byte, error) {
	rows := fx.restart
	if rows == 0 {
		rows = fx.height
	}
	src := synth(fx)
	var strips [][]byte
	for y0 := 0; y0 < fx.height; y0 += rows {
		h := min(rows, fx.height-y0)
		part := src[y0*fx.width*fx.comps : (y0+h)*fx.width*fx.comps]
		cs, err := charlsEncode(charlsLayout(part, fx, h), charlsParams{width: fx.width, height: h, bits: fx.bits,
			comps: fx.comps, near: fx.near, ilv: fx.ilv, pc: [5]int{fx.maxval, fx.t1, fx.t2, fx.t3, fx.reset}, transform: fx.transform})
		if err != nil {
			return nil, err
		}
		strips = append(strips, cs)
	}
	if fx.restart == 0 {
		return strips[0], nil
	}
	return splice(strips, fx.height, fx.restart)
}

// charlsLayout lays samples out as CharLS's encoder takes them.
func charlsLayout(s []int, fx fixture, h int) []byte {
	n := fx.width * h
	bps := 1
	if fx.bits > 8 {
		bps = 2
	}
	out := make([]byte, len(s)*bps)
	for i, v := range s {
		o := i
		if fx.ilv == 0 && fx.comps > 1 { // planar
			o = (i%fx.comps)*n + i/fx.comps
		}
		if bps == 1 {
			out[o] = byte(v)
		} else {
			binary.LittleEndian.PutUint16(out[2*o:], uint16(v))
		}
	}
	return out
}

type jlsPart struct {
	marker byte
	seg    []byte // marker segment including its length field
	data   []byte // entropy-coded data after an SOS
}

func jlsParts(cs []byte) ([]jlsPart, error) {
	var parts []jlsPart
	p := 2
	for p+2 <= len(cs) {
		m := cs[p+1]
		if m == mEOI {
			return parts, nil
		}
		if p+4 > len(cs) {
			break
		}
		n := int(binary.BigEndian.Uint16(cs[p+2:]))
		part := jlsPart{marker: m, seg: cs[p+2 : p+2+n]}
		p += 2 + n
		if m == mSOS {
			q := p
			for !(cs[q] == 0xFF && cs[q+1] >= 0x80) {
				q++
			}
			part.data, p = cs[p:q], q
		}
		parts = append(parts, part)
	}
	return nil, fmt.Errorf("no EOI")
}

func splice(strips [][]byte, height, restart int) ([]byte, error) {
	var all [][]jlsPart
	for _, s := range strips {
		parts, err := jlsParts(s)
		if err != nil {
			return nil, err
		}
		all = append(all, parts)
	}
	out := []byte{0xFF, mSOI}
	scan := 0
	for i, part := range all[0] {
		if part.marker != mSOS {
			seg := append([]byte(nil), part.seg...)
			if part.marker == mSOF55 {
				binary.BigEndian.PutUint16(seg[3:], uint16(height))
			}
			out = append(append(out, 0xFF, part.marker), seg...)
			continue
		}
		if scan == 0 {
			out = append(out, 0xFF, mDRI, 0, 4, byte(restart>>8), byte(restart))
		}
		scan++
		out = append(append(out, 0xFF, mSOS), part.seg...)
		for k, parts := range all {
			if k > 0 {
				out = append(out, 0xFF, byte(0xD0+(k-1)%8))
			}
			out = append(out, parts[i].data...)
		}
	}
	return append(out, 0xFF, mEOI), nil
}

// TestDifferentialCharLS encodes random images with random parameters
// through CharLS and requires both decoders to agree bit for bit (and the
// lossless ones to give the image back).
func TestDifferentialCharLS(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14495))
	cases := 2000
	if testing.Short() {
		cases = 60
	}
	for i := 0; i < cases; i++ {
		fx := fixture{name: fmt.Sprintf("case%d", i), width: 1 + rng.IntN(70), height: 1 + rng.IntN(40), bits: 2 + rng.IntN(15)}
		if rng.IntN(2) == 0 {
			fx.comps, fx.ilv = 3, rng.IntN(3)
		} else {
			fx.comps = 1
		}
		maxv := 1<<fx.bits - 1
		if rng.IntN(4) == 0 { // a custom MAXVAL
			fx.maxval = 1 + rng.IntN(maxv)
			maxv = fx.maxval
		}
		if rng.IntN(3) > 0 {
			fx.near = rng.IntN(min(4, maxv/2+1))
		}
		if rng.IntN(4) == 0 && maxv > fx.near { // custom presets within C.2.4.1.1's ranges
			fx.t1 = fx.near + 1 + rng.IntN(maxv-fx.near)
			fx.t2 = fx.t1 + rng.IntN(maxv-fx.t1+1)
			fx.t3 = fx.t2 + rng.IntN(maxv-fx.t2+1)
			fx.reset = 3 + rng.IntN(253) // CharLS 2.4.1 truncates RESET > 255 in run mode
			if (fx.comps == 3 && fx.ilv == 2) || fx.maxval != 0 {
				// CharLS 2.4.1 cannot decode its own sample-interleaved
				// stream with a custom RESET (its codec factory then falls
				// back to one-sample traits), nor encode a custom MAXVAL
				// with a custom RESET (see scan.setup).
				fx.reset = 0
			}
		}
		if fx.comps == 3 && fx.ilv > 0 && (fx.bits == 8 || fx.bits == 16) && rng.IntN(2) == 0 {
			fx.transform = 1 + rng.IntN(3)
		}
		src := randomImage(rng, fx)
		cs, err := charlsEncode(charlsLayout(src, fx, fx.height), charlsParams{width: fx.width, height: fx.height, bits: fx.bits,
			comps: fx.comps, near: fx.near, ilv: fx.ilv, pc: [5]int{fx.maxval, fx.t1, fx.t2, fx.t3, fx.reset}, transform: fx.transform})
		if err != nil {
			t.Fatalf("%+v: %v", fx, err)
		}
		want, err := CharLS{}.Decode(cs, fx.info())
		if err != nil {
			t.Fatalf("%+v: CharLS: %v", fx, err)
		}
		got, err := Decoder{}.Decode(cs, fx.info())
		if err != nil {
			t.Fatalf("%+v: %v", fx, err)
		}
		if !slices.Equal(got.Data, want.Data) {
			t.Fatalf("%+v: differs from CharLS", fx)
		}
		if fx.near == 0 && !slices.Equal(frameSamples(got), src) {
			t.Fatalf("%+v: not lossless", fx)
		}
	}
}

// randomImage mixes the image kinds that steer JPEG-LS into its modes:
// constant (runs), smooth, noisy, and binary edges.
func randomImage(rng *rand.Rand, fx fixture) []int {
	maxv := fx.maxv()
	out := make([]int, fx.width*fx.height*fx.comps)
	kind := rng.IntN(4)
	base := rng.IntN(maxv + 1)
	for i := range out {
		x, y := (i/fx.comps)%fx.width, (i/fx.comps)/fx.width
		var v int
		switch kind {
		case 0:
			v = base
			if rng.IntN(50) == 0 {
				v = rng.IntN(maxv + 1)
			}
		case 1:
			v = base + (x+y)*maxv/200 + rng.IntN(3)
		case 2:
			v = rng.IntN(maxv + 1)
		default:
			if (x/3+y/5)%2 == 0 {
				v = maxv
			}
		}
		out[i] = min(max(v, 0), maxv) % (maxv + 1)
	}
	return out
}

package render_test

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/huren-health/huren/pixels/render"
)

// TestStripedJPEG: a large grey image encoded in parallel strips decodes
// to exactly the pixels of image/jpeg's single-stream encoding (sizes that
// are and are not multiples of 8, strips that do and do not divide the
// height), carries a restart interval, and small images stay image/jpeg's
// own bytes.
func TestStripedJPEG(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	for _, sz := range []image.Point{{2500, 3000}, {1201, 1003}, {4096, 260}, {300, 3500}, {1000, 1000}} {
		g := image.NewGray(image.Rect(0, 0, sz.X, sz.Y))
		for y := 0; y < sz.Y; y++ {
			for x := 0; x < sz.X; x++ {
				g.Pix[y*g.Stride+x] = uint8((x*x/7 + y*3 + (x*y)%251) % 256)
			}
		}
		for _, q := range []int{90, 50} {
			var single, striped bytes.Buffer
			if err := jpeg.Encode(&single, g, &jpeg.Options{Quality: q}); err != nil {
				t.Fatal(err)
			}
			if err := render.Encode(&striped, g, render.Params{Quality: q}); err != nil {
				t.Fatal(err)
			}
			hasDRI := bytes.Contains(striped.Bytes()[:1024], []byte{0xFF, 0xDD, 0x00, 0x04})
			if small := sz.X*sz.Y < 1<<20; small {
				if !bytes.Equal(single.Bytes(), striped.Bytes()) {
					t.Errorf("%v: a small image is not image/jpeg's own encoding", sz)
				}
				continue
			}
			if !hasDRI {
				t.Errorf("%v: no restart interval", sz)
			}
			t.Logf("%v q%d: %d bytes striped, %d single", sz, q, striped.Len(), single.Len())
			a, err := jpeg.Decode(bytes.NewReader(single.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			b, err := jpeg.Decode(bytes.NewReader(striped.Bytes()))
			if err != nil {
				t.Fatalf("%v q%d: striped JPEG does not decode: %v", sz, q, err)
			}
			ga, gb := a.(*image.Gray), b.(*image.Gray)
			if ga.Rect != gb.Rect || !bytes.Equal(ga.Pix, gb.Pix) {
				t.Errorf("%v q%d: striped JPEG decodes to other pixels (%v vs %v)", sz, q, gb.Rect, ga.Rect)
			}
			if q == 90 {
				ijgSame(t, single.Bytes(), striped.Bytes())
			}
		}
	}
}

// ijgSame decodes both JPEGs with an independent decoder (dcmtk's IJG
// code: img2dcm wraps the JPEG unchanged, dcmj2pnm decodes it) and
// requires identical pixels. Skipped without dcmtk.
func ijgSame(t *testing.T, single, striped []byte) {
	t.Helper()
	if _, err := exec.LookPath("img2dcm"); err != nil {
		t.Log("img2dcm (Debian dcmtk) not on PATH: independent decode skipped")
		return
	}
	dir := t.TempDir()
	var out [2][]byte
	for i, b := range [][]byte{single, striped} {
		jp, dcm, pnm := filepath.Join(dir, "in.jpg"), filepath.Join(dir, "in.dcm"), filepath.Join(dir, "out.pnm")
		if err := os.WriteFile(jp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range [][]string{{"img2dcm", jp, dcm}, {"dcmj2pnm", "+op", dcm, pnm}} {
			if msg, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", cmd, err, msg)
			}
		}
		var err error
		if out[i], err = os.ReadFile(pnm); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Errorf("dcmtk decodes the striped JPEG to other pixels than the single-stream one")
	}
}

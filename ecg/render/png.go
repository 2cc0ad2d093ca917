package render

import (
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/huren-health/huren/ecg/analysis"
)

// rasterCanvas draws with anti-aliased lines on an RGBA image. Text uses
// the 7×13 bitmap font of x/image (ASCII; other characters are dropped —
// the SVG carries the full bilingual text).
type rasterCanvas struct {
	img *image.RGBA
	k   float64 // px per mm
}

func parseHex(s string) color.RGBA {
	v, _ := strconv.ParseUint(s[1:], 16, 32)
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 255}
}

func (r rasterCanvas) blend(x, y int, c color.RGBA, a float64) {
	if !(image.Point{x, y}.In(r.img.Rect)) || a <= 0 {
		return
	}
	if a > 1 {
		a = 1
	}
	i := r.img.PixOffset(x, y)
	p := r.img.Pix[i : i+4 : i+4]
	p[0] = uint8(float64(p[0])*(1-a) + float64(c.R)*a)
	p[1] = uint8(float64(p[1])*(1-a) + float64(c.G)*a)
	p[2] = uint8(float64(p[2])*(1-a) + float64(c.B)*a)
	p[3] = 255
}

func (r rasterCanvas) rect(x, y, w, h float64, fill string) {
	c := parseHex(fill)
	x0, y0 := int(math.Round(x*r.k)), int(math.Round(y*r.k))
	x1, y1 := int(math.Round((x+w)*r.k)), int(math.Round((y+h)*r.k))
	for yy := y0; yy < y1; yy++ {
		for xx := x0; xx < x1; xx++ {
			r.blend(xx, yy, c, 1)
		}
	}
}

func (r rasterCanvas) line(x1, y1, x2, y2, w float64, col string) {
	c := parseHex(col)
	if x1 == x2 || y1 == y2 { // grid lines: crisp, at least one pixel
		px := math.Max(1, w*r.k)
		a := math.Min(1, w*r.k/px*1.6)
		if x1 == x2 {
			x := int(math.Round(x1 * r.k))
			for y := int(math.Round(math.Min(y1, y2) * r.k)); y <= int(math.Round(math.Max(y1, y2)*r.k)); y++ {
				for d := 0; d < int(px); d++ {
					r.blend(x+d, y, c, a)
				}
			}
		} else {
			y := int(math.Round(y1 * r.k))
			for x := int(math.Round(math.Min(x1, x2) * r.k)); x <= int(math.Round(math.Max(x1, x2)*r.k)); x++ {
				for d := 0; d < int(px); d++ {
					r.blend(x, y+d, c, a)
				}
			}
		}
		return
	}
	r.wu(x1*r.k, y1*r.k, x2*r.k, y2*r.k, c, w*r.k)
}

func (r rasterCanvas) polyline(pts []float64, w float64, col string) {
	c := parseHex(col)
	for i := 0; i+3 < len(pts); i += 2 {
		r.wu(pts[i]*r.k, pts[i+1]*r.k, pts[i+2]*r.k, pts[i+3]*r.k, c, w*r.k)
	}
}

// wu draws an anti-aliased line of width ~w px by stepping along the major
// axis and covering the cross-section with coverage-weighted pixels.
func (r rasterCanvas) wu(x0, y0, x1, y1 float64, c color.RGBA, w float64) {
	w = math.Max(w, 1)
	dx, dy := x1-x0, y1-y0
	steep := math.Abs(dy) > math.Abs(dx)
	if steep {
		x0, y0, x1, y1, dx, dy = y0, x0, y1, x1, dy, dx
	}
	if x0 > x1 {
		x0, x1, y0, y1 = x1, x0, y1, y0
	}
	grad := 0.0
	if dx != 0 {
		grad = (y1 - y0) / (x1 - x0)
	}
	// Width measured perpendicular to the line.
	half := w / 2 * math.Sqrt(1+grad*grad)
	for x := int(math.Floor(x0)); x <= int(math.Ceil(x1)); x++ {
		xc := math.Min(math.Max(float64(x), x0), x1)
		yc := y0 + grad*(xc-x0)
		lo, hi := yc-half, yc+half
		for y := int(math.Floor(lo)); y <= int(math.Ceil(hi)); y++ {
			cov := math.Min(hi, float64(y)+1) - math.Max(lo, float64(y))
			if cov <= 0 {
				continue
			}
			if steep {
				r.blend(y, x, c, cov)
			} else {
				r.blend(x, y, c, cov)
			}
		}
	}
}

func (r rasterCanvas) text(x, y float64, s string, size float64, col string, bold bool) {
	ascii := make([]byte, 0, len(s))
	for _, ch := range s {
		switch {
		case ch < 128:
			ascii = append(ascii, byte(ch))
		case ch == '—' || ch == '–':
			ascii = append(ascii, '-')
		case ch == '≥':
			ascii = append(ascii, '>', '=')
		case ch == '°':
			ascii = append(ascii, ' ', 'd', 'e', 'g')
		}
	}
	d := &font.Drawer{Dst: r.img, Src: image.NewUniform(parseHex(col)), Face: basicfont.Face7x13,
		Dot: fixed.P(int(x*r.k), int(y*r.k))}
	d.DrawString(string(ascii))
	if bold {
		d.Dot = fixed.P(int(x*r.k)+1, int(y*r.k))
		d.DrawString(string(ascii))
	}
}

// PNG writes the tracing as a PNG at o.PxPerMM pixels per millimetre.
func PNG(w io.Writer, a *analysis.Analysis, o Options) error {
	o, err := o.withDefaults()
	if err != nil {
		return err
	}
	l := newLayout(o)
	img := image.NewRGBA(image.Rect(0, 0, int(math.Ceil(l.w*o.PxPerMM)), int(math.Ceil(l.h*o.PxPerMM))))
	draw(rasterCanvas{img: img, k: o.PxPerMM}, a, l)
	return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, img)
}

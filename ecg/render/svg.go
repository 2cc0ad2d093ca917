package render

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/huren-health/huren/ecg/analysis"
)

type svgCanvas struct{ b *bytes.Buffer }

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func (s svgCanvas) rect(x, y, w, h float64, fill string) {
	fmt.Fprintf(s.b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>`+"\n", f1(x), f1(y), f1(w), f1(h), fill)
}

func (s svgCanvas) line(x1, y1, x2, y2, w float64, col string) {
	fmt.Fprintf(s.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"/>`+"\n", f1(x1), f1(y1), f1(x2), f1(y2), col, f1(w))
}

func (s svgCanvas) polyline(pts []float64, w float64, col string) {
	s.b.WriteString(`<polyline fill="none" stroke-linejoin="round" stroke="` + col + `" stroke-width="` + f1(w) + `" points="`)
	for i := 0; i+1 < len(pts); i += 2 {
		if i > 0 {
			s.b.WriteByte(' ')
		}
		s.b.WriteString(strconv.FormatFloat(pts[i], 'f', 2, 64))
		s.b.WriteByte(',')
		s.b.WriteString(strconv.FormatFloat(pts[i+1], 'f', 2, 64))
	}
	s.b.WriteString("\"/>\n")
}

var xmlEsc = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

func (s svgCanvas) text(x, y float64, t string, size float64, col string, bold bool) {
	w := "normal"
	if bold {
		w = "bold"
	}
	fmt.Fprintf(s.b, `<text x="%s" y="%s" font-size="%s" font-weight="%s" fill="%s">%s</text>`+"\n", f1(x), f1(y), f1(size), w, col, xmlEsc.Replace(t))
}

// SVG writes the tracing as an SVG document sized in millimetres, so
// printing it at 100 % gives true 25 mm/s and 10 mm/mV.
func SVG(w io.Writer, a *analysis.Analysis, o Options) error {
	o, err := o.withDefaults()
	if err != nil {
		return err
	}
	l := newLayout(o)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%smm" height="%smm" viewBox="0 0 %s %s" font-family="sans-serif">`+"\n", f1(l.w), f1(l.h), f1(l.w), f1(l.h))
	draw(svgCanvas{&b}, a, l)
	b.WriteString("</svg>\n")
	_, err = w.Write(b.Bytes())
	return err
}

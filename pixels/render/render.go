// Package render turns a decoded frame into a displayable 8-bit image and
// encodes it, following the grayscale pipeline of PS3.3 C.11 / PS3.4 N.2:
// Modality LUT (Rescale Slope/Intercept or Modality LUT Sequence) → VOI
// (the requested window, else the file's first window or VOI LUT, else the
// frame's value range; functions LINEAR, LINEAR_EXACT, SIGMOID per
// C.11.2.1.2) → Presentation (MONOCHROME1 inverted) → resize
// (disintegration/imaging) → JPEG or PNG. Colour frames are converted to
// RGB (YBR_FULL/YBR_PARTIAL, PALETTE COLOR via its LUTs).
//
// GreyStream runs the same grey pipeline over rows as they are read (a
// native frame streamed from storage) with pixel-identical results. Large
// grey JPEGs are encoded in parallel strips joined with restart markers.
//
// It only sees pixels.Frame, pixels.Info and pixels.Display, never codecs.
// Functions are pure and safe for concurrent use; a GreyStream belongs to
// one goroutine.
package render

import (
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"strings"

	"github.com/disintegration/imaging"

	"github.com/huren-health/huren/errkind"
	"github.com/huren-health/huren/pixels"
)

// ErrParams: an invalid rendering parameter (window, viewport, quality).
var ErrParams = errkind.New(errkind.Invalid, "render: invalid parameter")

// VOI LUT functions (PS3.3 C.11.2.1.3).
const (
	Linear      = "LINEAR"
	LinearExact = "LINEAR_EXACT"
	Sigmoid     = "SIGMOID"
)

// Params are the rendering options of a request.
type Params struct {
	// Window, when non-nil, overrides the file's VOI.
	Window *pixels.Window
	// Function is the VOI LUT function: "" (the file's, else LINEAR),
	// LINEAR, LINEAR_EXACT or SIGMOID.
	Function string
	// Width and Height of the viewport; 0 keeps the natural size. The image
	// is scaled to fit inside, keeping its aspect ratio.
	Width, Height int
	// Format is "image/jpeg" (default) or "image/png".
	Format string
	// Quality is the JPEG quality 1..100 (default 90).
	Quality int
}

// Key is a canonical string of p for cache keys.
func (p Params) Key() string {
	w := "file"
	if p.Window != nil {
		w = fmt.Sprintf("%g,%g", p.Window.Center, p.Window.Width)
	}
	return fmt.Sprintf("w=%s;f=%s;v=%dx%d;t=%s;q=%d", w, p.Function, p.Width, p.Height, p.Format, p.Quality)
}

// Validate checks the parameters.
func (p Params) Validate() error {
	if p.Window != nil && (p.Window.Width <= 0 || math.IsNaN(p.Window.Center) || math.IsInf(p.Window.Center, 0) || math.IsInf(p.Window.Width, 0)) {
		return fmt.Errorf("window width %g: %w", p.Window.Width, ErrParams)
	}
	switch strings.ToUpper(p.Function) {
	case "", Linear, LinearExact, Sigmoid:
	default:
		return fmt.Errorf("VOI LUT function %q: %w", p.Function, ErrParams)
	}
	if p.Width < 0 || p.Height < 0 || p.Width > 8192 || p.Height > 8192 {
		return fmt.Errorf("viewport %d×%d: %w", p.Width, p.Height, ErrParams)
	}
	if p.Quality < 0 || p.Quality > 100 {
		return fmt.Errorf("quality %d: %w", p.Quality, ErrParams)
	}
	switch p.Format {
	case "", "image/jpeg", "image/png":
	default:
		return fmt.Errorf("format %q: %w", p.Format, ErrParams)
	}
	return nil
}

// Render runs the pipeline and returns an 8-bit *image.Gray or *image.RGBA
// at the viewport size.
func Render(f *pixels.Frame, d pixels.Display, p Params) (image.Image, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if f == nil || f.Rows <= 0 || f.Columns <= 0 || len(f.Data) < f.Rows*f.Columns*f.SamplesPerPixel*(f.BitsAllocated/8) {
		return nil, fmt.Errorf("render: frame data does not match its geometry: %w", pixels.ErrCorrupt)
	}
	var img image.Image
	var err error
	if f.SamplesPerPixel == 1 && f.Photometric != "PALETTE COLOR" {
		img, err = grey(f, d, p)
	} else {
		img, err = colour(f, d)
	}
	if err != nil {
		return nil, err
	}
	return resize(img, p.Width, p.Height), nil
}

// Encode writes img as p.Format.
func Encode(w io.Writer, img image.Image, p Params) error {
	if p.Format == "image/png" {
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		return enc.Encode(w, img)
	}
	return encodeJPEG(w, img, p.quality())
}

// quality is the JPEG quality to use (default 90).
func (p Params) quality() int {
	if p.Quality == 0 {
		return 90
	}
	return p.Quality
}

// sample reads sample i of f as a signed integer (masked to BitsStored and
// sign-extended when Signed).
func sampler(f *pixels.Frame) func(i int) int64 {
	bs := uint(f.BitsStored)
	if bs == 0 || bs > uint(f.BitsAllocated) {
		bs = uint(f.BitsAllocated)
	}
	mask := uint64(1)<<bs - 1
	ext := func(u uint64) int64 {
		u &= mask
		if f.Signed && u&(1<<(bs-1)) != 0 {
			return int64(u) - int64(1)<<bs
		}
		return int64(u)
	}
	switch f.BitsAllocated {
	case 8:
		return func(i int) int64 { return ext(uint64(f.Data[i])) }
	case 16:
		return func(i int) int64 { return ext(uint64(binary.LittleEndian.Uint16(f.Data[2*i:]))) }
	default:
		return func(i int) int64 { return ext(uint64(binary.LittleEndian.Uint32(f.Data[4*i:]))) }
	}
}

// voi maps a modality value to 0..255 per PS3.3 C.11.2.1.2.
type voiFunc func(x float64) float64

func windowFunc(fn string, c, w float64) voiFunc {
	const ymax = 255.0
	switch strings.ToUpper(fn) {
	case LinearExact:
		return func(x float64) float64 {
			switch {
			case x <= c-w/2:
				return 0
			case x > c+w/2:
				return ymax
			}
			return ((x-c)/w + 0.5) * ymax
		}
	case Sigmoid:
		return func(x float64) float64 { return ymax / (1 + math.Exp(-4*(x-c)/w)) }
	}
	if w < 1 {
		w = 1
	}
	return func(x float64) float64 {
		switch {
		case x <= c-0.5-(w-1)/2:
			return 0
		case x > c-0.5+(w-1)/2:
			return ymax
		}
		return ((x-(c-0.5))/(w-1) + 0.5) * ymax
	}
}

// greyPipeline is the per-value part of the grey pipeline for one frame
// and request: Modality LUT → VOI → presentation.
type greyPipeline struct {
	modality func(v int64) float64
	// voi is nil when the window comes from the frame's value range (no
	// window requested or in the file, no VOI LUT): see withRange.
	voi    voiFunc
	invert bool
}

func newGreyPipeline(d pixels.Display, p Params, photometric string) greyPipeline {
	if d.RescaleSlope == 0 && d.ModalityLUT == nil {
		d.RescaleSlope = 1
	}
	g := greyPipeline{invert: photometric == "MONOCHROME1"}
	g.modality = func(v int64) float64 {
		if d.ModalityLUT != nil && len(d.ModalityLUT.Data) > 0 {
			return float64(d.ModalityLUT.Lookup(int(v)))
		}
		return float64(v)*d.RescaleSlope + d.RescaleIntercept
	}
	fn := p.Function
	if fn == "" {
		fn = d.VOIFunction
	}
	switch {
	case p.Window != nil:
		g.voi = windowFunc(fn, p.Window.Center, p.Window.Width)
	case len(d.Windows) > 0 && d.Windows[0].Width > 0:
		g.voi = windowFunc(fn, d.Windows[0].Center, d.Windows[0].Width)
	case d.VOILUT != nil && len(d.VOILUT.Data) > 0:
		lut := d.VOILUT
		scale := 255.0 / float64(uint32(1)<<uint(lut.Bits)-1)
		g.voi = func(x float64) float64 { return float64(lut.Lookup(int(math.Floor(x)))) * scale }
	}
	return g
}

// withRange sets the VOI from the modality values' range lo..hi
// (LINEAR_EXACT over it, as dcmtk's min-max window).
func (g *greyPipeline) withRange(lo, hi float64) {
	w := hi - lo
	if w < 1 {
		w = 1
	}
	g.voi = windowFunc(LinearExact, lo+w/2, w)
}

func (g *greyPipeline) toByte(v int64) uint8 {
	y := g.voi(g.modality(v))
	b := uint8(math.Max(0, math.Min(255, math.Round(y))))
	if g.invert {
		b = 255 - b
	}
	return b
}

// storedBits is the number of meaningful low bits of f's samples.
func storedBits(f *pixels.Frame) int {
	bs := f.BitsStored
	if bs <= 0 || bs > f.BitsAllocated {
		bs = f.BitsAllocated
	}
	return bs
}

// table runs the pipeline once per possible stored value (bs ≤ 16 bits):
// rendering is then one lookup per pixel.
func (g *greyPipeline) table(bs int, signed bool) []uint8 {
	size := 1 << uint(bs)
	table := make([]uint8, size)
	for u := 0; u < size; u++ {
		v := int64(u)
		if signed && u >= size/2 {
			v -= int64(size)
		}
		table[u] = g.toByte(v)
	}
	return table
}

// mapRow maps len(dst) stored samples of src (bitsAllocated 8 or 16, little
// endian) through table. Bits above the table's range are masked off.
func mapRow(dst []uint8, src []byte, bitsAllocated int, table []uint8) {
	mask := len(table) - 1
	if bitsAllocated == 8 {
		src = src[:len(dst)]
		for i, v := range src {
			dst[i] = table[int(v)&mask]
		}
		return
	}
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = table[(int(src[2*i])|int(src[2*i+1])<<8)&mask]
	}
}

func grey(f *pixels.Frame, d pixels.Display, p Params) (image.Image, error) {
	n := f.Rows * f.Columns
	at := sampler(f)
	g := newGreyPipeline(d, p, f.Photometric)
	if g.voi == nil {
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := 0; i < n; i++ {
			v := g.modality(at(i))
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		g.withRange(lo, hi)
	}
	out := image.NewGray(image.Rect(0, 0, f.Columns, f.Rows))
	if bs := storedBits(f); bs <= 16 && f.BitsAllocated <= 16 {
		mapRow(out.Pix, f.Data, f.BitsAllocated, g.table(bs, f.Signed))
		return out, nil
	}
	if bs := storedBits(f); bs <= 16 {
		// 32-bit samples with few stored bits: still one table.
		table := g.table(bs, f.Signed)
		mask := len(table) - 1
		for i := 0; i < n; i++ {
			out.Pix[i] = table[int(binary.LittleEndian.Uint32(f.Data[4*i:]))&mask]
		}
		return out, nil
	}
	for i := 0; i < n; i++ {
		out.Pix[i] = g.toByte(at(i))
	}
	return out, nil
}

func colour(f *pixels.Frame, d pixels.Display) (image.Image, error) {
	n := f.Rows * f.Columns
	out := image.NewRGBA(image.Rect(0, 0, f.Columns, f.Rows))
	at := sampler(f)
	switch f.Photometric {
	case "PALETTE COLOR":
		if d.Palette[0] == nil || d.Palette[1] == nil || d.Palette[2] == nil {
			return nil, fmt.Errorf("render: PALETTE COLOR without palette LUTs: %w", pixels.ErrCorrupt)
		}
		var shift [3]uint
		for c := 0; c < 3; c++ {
			mx := uint16(0)
			for _, v := range d.Palette[c].Data {
				mx = max(mx, v)
			}
			if mx > 255 { // 16-bit entries
				shift[c] = 8
			}
		}
		for i := 0; i < n; i++ {
			v := int(at(i))
			o := out.Pix[4*i:]
			o[0] = uint8(d.Palette[0].Lookup(v) >> shift[0])
			o[1] = uint8(d.Palette[1].Lookup(v) >> shift[1])
			o[2] = uint8(d.Palette[2].Lookup(v) >> shift[2])
			o[3] = 255
		}
		return out, nil
	}
	if f.SamplesPerPixel != 3 {
		return nil, fmt.Errorf("render: %d samples with photometric %s: %w", f.SamplesPerPixel, f.Photometric, pixels.ErrCorrupt)
	}
	shift := 0
	if f.BitsStored > 8 {
		shift = f.BitsStored - 8
	}
	ybr := strings.HasPrefix(f.Photometric, "YBR")
	partial := strings.HasPrefix(f.Photometric, "YBR_PARTIAL")
	for i := 0; i < n; i++ {
		a := float64(at(3*i) >> shift)
		b := float64(at(3*i+1) >> shift)
		c := float64(at(3*i+2) >> shift)
		if ybr {
			if partial { // PS3.3 C.7.6.3.1.2, 8-bit
				yy := 1.1644 * (a - 16)
				a, b, c = yy+1.5960*(c-128), yy-0.3918*(b-128)-0.8130*(c-128), yy+2.0172*(b-128)
			} else {
				a, b, c = a+1.402*(c-128), a-0.344136*(b-128)-0.714136*(c-128), a+1.772*(b-128)
			}
		}
		o := out.Pix[4*i:]
		o[0], o[1], o[2], o[3] = clamp8(a), clamp8(b), clamp8(c), 255
	}
	return out, nil
}

func clamp8(v float64) uint8 {
	return uint8(math.Max(0, math.Min(255, math.Round(v))))
}

// fit is the size of a sw×sh image scaled to fit inside a w×h viewport
// (0 = free) keeping its aspect ratio, and the scale factor.
func fit(sw, sh, w, h int) (tw, th int, scale float64) {
	if w == 0 && h == 0 {
		return sw, sh, 1
	}
	if w == 0 {
		w = sw * h / sh
	}
	if h == 0 {
		h = sh * w / sw
	}
	scale = math.Min(float64(w)/float64(sw), float64(h)/float64(sh))
	return max(1, int(math.Round(float64(sw)*scale))), max(1, int(math.Round(float64(sh)*scale))), scale
}

// resize fits img inside w×h keeping the aspect ratio. Box filtering for
// strong reductions (fast, no aliasing), Catmull-Rom otherwise.
func resize(img image.Image, w, h int) image.Image {
	b := img.Bounds()
	tw, th, scale := fit(b.Dx(), b.Dy(), w, h)
	if tw == b.Dx() && th == b.Dy() {
		return img
	}
	if g, ok := img.(*image.Gray); ok && scale < 0.5 {
		return boxGray(g, tw, th)
	}
	filter := imaging.CatmullRom
	if scale < 0.5 {
		filter = imaging.Box
	}
	r := imaging.Resize(img, tw, th, filter)
	if _, ok := img.(*image.Gray); ok {
		g := image.NewGray(r.Bounds())
		for i := range g.Pix {
			g.Pix[i] = r.Pix[4*i]
		}
		return g
	}
	return r
}

// boxGray downsamples a grey image by area averaging. It is what
// imaging.Box does for strong reductions, without converting a 2500×3000
// radiograph to NRGBA (4× the memory and time) first.
func boxGray(src *image.Gray, tw, th int) *image.Gray {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	r := newBoxReducer(sw, sh, tw, th)
	for sy := 0; sy < sh; sy++ {
		r.row(src.Pix[sy*src.Stride : sy*src.Stride+sw])
	}
	return r.dst
}

// boxReducer area-averages rows of a sw×sh grey image, given top to
// bottom, into a tw×th image (tw ≤ sw, th ≤ sh), holding one row of sums:
// a streamed frame is reduced without being held whole.
type boxReducer struct {
	sw, sh, tw, th int
	x0s            []int
	sums           []uint32
	y, sy          int // output row being summed, next source row
	dst            *image.Gray
}

func newBoxReducer(sw, sh, tw, th int) *boxReducer {
	r := &boxReducer{sw: sw, sh: sh, tw: tw, th: th, x0s: make([]int, tw+1), sums: make([]uint32, tw),
		dst: image.NewGray(image.Rect(0, 0, tw, th))}
	for x := 0; x <= tw; x++ {
		r.x0s[x] = x * sw / tw
	}
	return r
}

// row adds the next source row (sw pixels).
func (r *boxReducer) row(row []uint8) {
	if r.y >= r.th {
		return
	}
	for x := 0; x < r.tw; x++ {
		s := uint32(0)
		for _, v := range row[r.x0s[x]:r.x0s[x+1]] {
			s += uint32(v)
		}
		r.sums[x] += s
	}
	r.sy++
	if y0, y1 := r.y*r.sh/r.th, (r.y+1)*r.sh/r.th; r.sy == y1 {
		out := r.dst.Pix[r.y*r.dst.Stride:]
		for x := 0; x < r.tw; x++ {
			n := uint32((y1 - y0) * (r.x0s[x+1] - r.x0s[x]))
			out[x] = uint8((r.sums[x] + n/2) / n)
			r.sums[x] = 0
		}
		r.y++
	}
}

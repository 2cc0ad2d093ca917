package render

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"runtime"
	"sync"
)

// stripMinPixels: grey images from this size up are JPEG-encoded in
// parallel strips. Below it (a CT slice, every preview) one encoder is as
// fast and the output is exactly image/jpeg's.
const stripMinPixels = 1 << 20

// stripMCURows is the height of a strip in 8-pixel MCU rows: small enough
// that a streamed frame needs only a few strip buffers, large enough that
// the per-strip cost (a header, a restart marker) is noise.
const stripMCURows = 16

// encodeJPEG encodes img at quality q: large grey images in strips
// (jpegStrips), everything else with one image/jpeg encoder.
func encodeJPEG(w io.Writer, img image.Image, q int) error {
	g, ok := img.(*image.Gray)
	if !ok {
		return jpeg.Encode(w, img, &jpeg.Options{Quality: q})
	}
	js, ok := newJPEGStrips(g.Rect.Dx(), g.Rect.Dy(), q)
	if !ok {
		return jpeg.Encode(w, img, &jpeg.Options{Quality: q})
	}
	b := g.Rect
	for i := 0; i < js.n; i++ {
		y0 := b.Min.Y + i*js.height
		js.encode(i, g.SubImage(image.Rect(b.Min.X, y0, b.Max.X, min(b.Max.Y, y0+js.height))).(*image.Gray), false)
	}
	if err := js.finish(w); err != errStripLayout {
		return err
	}
	return jpeg.Encode(w, img, &jpeg.Options{Quality: q})
}

// jpegStrips encodes a large grey image as horizontal strips a multiple of
// 8 rows high, each by image/jpeg on its own goroutine (at most GOMAXPROCS
// at once), and joins them into one baseline JPEG with a restart interval
// of one strip. Each strip's entropy-coded data starts with DC predictions
// at zero and ends byte-aligned (image/jpeg pads with 1-bits), which is
// exactly what a decoder expects after a restart marker, and every 8×8
// block is coded as a single encoder would code it: the decoded pixels are
// identical to image/jpeg's. A full-size radiograph (7.5 Mpx, ~70 ms in one
// encoder) is encoded by all cores, and a streamed frame is encoded while
// it is still being read (GreyStream), never held whole.
type jpegStrips struct {
	w, h, q int
	height  int // rows per strip (the last may be shorter)
	n       int
	mcus    int // restart interval: MCUs per strip
	parts   []bytes.Buffer
	errs    []error
	slots   chan struct{} // bounds concurrent encoders
	free    chan *image.Gray
	wg      sync.WaitGroup
}

// newJPEGStrips plans the strips of a w×h grey image; ok is false when
// striping does not pay (small image, one core) or cannot be expressed.
func newJPEGStrips(w, h, q int) (*jpegStrips, bool) {
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || w*h < stripMinPixels || w >= 1<<16 || h >= 1<<16 {
		return nil, false
	}
	mcuCols := (w + 7) / 8
	rows := max(1, min(stripMCURows, 0xFFFF/mcuCols)) // restart interval fits 16 bits
	js := &jpegStrips{w: w, h: h, q: q, height: rows * 8, mcus: rows * mcuCols}
	js.n = (h + js.height - 1) / js.height
	if js.n < 2 {
		return nil, false
	}
	js.parts = make([]bytes.Buffer, js.n)
	js.errs = make([]error, js.n)
	js.slots = make(chan struct{}, workers)
	js.free = make(chan *image.Gray, workers+1)
	return js, true
}

// buffer returns a strip-sized image to fill, recycled from encoded strips
// when possible.
func (js *jpegStrips) buffer() *image.Gray {
	select {
	case g := <-js.free:
		return g
	default:
		return image.NewGray(image.Rect(0, 0, js.w, js.height))
	}
}

// encode starts encoding strip i from g (js.height rows, fewer for the
// last strip). It blocks while every encoder slot is busy, which is the
// back-pressure on a reader producing strips faster. recycle hands g back
// to buffer() once encoded.
func (js *jpegStrips) encode(i int, g *image.Gray, recycle bool) {
	js.slots <- struct{}{}
	js.wg.Add(1)
	go func() {
		defer js.wg.Done()
		defer func() { <-js.slots }()
		js.parts[i].Grow(g.Rect.Dx()*g.Rect.Dy()/8 + 1024)
		js.errs[i] = jpeg.Encode(&js.parts[i], g, &jpeg.Options{Quality: js.q})
		if recycle && g.Rect.Dy() == js.height {
			select {
			case js.free <- g:
			default:
			}
		}
	}()
}

// errStripLayout: image/jpeg wrote something this code does not know how
// to join; nothing was written yet.
var errStripLayout = errors.New("render: unexpected image/jpeg strip layout")

// finish waits for every strip and writes the joined JPEG. It checks every
// strip before writing anything.
func (js *jpegStrips) finish(w io.Writer) error {
	js.wg.Wait()
	if err := errors.Join(js.errs...); err != nil {
		return err
	}
	data := make([][]byte, js.n) // entropy-coded data of each strip
	var header []byte
	for i := range js.parts {
		p := js.parts[i].Bytes()
		h, sof, ok := jpegHeader(p)
		if !ok || len(p) < len(h)+2 || p[len(p)-2] != 0xFF || p[len(p)-1] != 0xD9 {
			return errStripLayout
		}
		if i == 0 {
			header = bytes.Clone(h)
			binary.BigEndian.PutUint16(header[sof+5:], uint16(js.h))
		}
		data[i] = p[len(h) : len(p)-2]
	}
	sos := len(header) - len(sosGray)
	out := make([]byte, 0, len(header)+6)
	out = append(out, header[:sos]...)
	out = append(out, 0xFF, 0xDD, 0, 4) // DRI: restart every strip
	out = binary.BigEndian.AppendUint16(out, uint16(js.mcus))
	out = append(out, header[sos:]...)
	if _, err := w.Write(out); err != nil {
		return err
	}
	for i, d := range data {
		if _, err := w.Write(d); err != nil {
			return err
		}
		marker := []byte{0xFF, 0xD9} // EOI after the last strip
		if i < js.n-1 {
			marker[1] = 0xD0 + byte(i%8) // RSTi
		}
		if _, err := w.Write(marker); err != nil {
			return err
		}
	}
	return nil
}

// sosGray is image/jpeg's Start Of Scan segment for one component.
var sosGray = []byte{0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00}

// jpegHeader returns the bytes of a one-component baseline JPEG up to and
// including its SOS segment, and the offset of its SOF0 marker; ok is false
// for any other layout.
func jpegHeader(b []byte) (header []byte, sof int, ok bool) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return nil, 0, false
	}
	sof = -1
	for p := 2; p+4 <= len(b); {
		if b[p] != 0xFF {
			return nil, 0, false
		}
		m, l := b[p+1], int(binary.BigEndian.Uint16(b[p+2:]))
		end := p + 2 + l
		if l < 2 || end > len(b) {
			return nil, 0, false
		}
		switch m {
		case 0xC0:
			if l != 11 || b[p+9] != 1 { // one component
				return nil, 0, false
			}
			sof = p
		case 0xDA:
			if sof < 0 || !bytes.Equal(b[p:end], sosGray) {
				return nil, 0, false
			}
			return b[:end], sof, true
		case 0xDB, 0xC4:
		default:
			return nil, 0, false
		}
		p = end
	}
	return nil, 0, false
}

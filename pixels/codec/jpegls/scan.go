package jpegls

import (
	"encoding/binary"
	"math/bits"
	"sync"
)

// The scan decoder follows ISO/IEC 14495-1 (ITU-T T.87) Annex A; the
// comments name its code segments. Everything per sample works on ints in
// preallocated line buffers: no allocation, no interface and no error
// return in the inner loops (a corrupt code sets s.err, checked per line).

// j is the run-length order table J[0..31] (A.2.1, step 3).
var j = [32]int{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15}

// ctxRegular holds A, B, C and N of one regular-mode context (A.2.1).
// int32 keeps the 365 contexts in 6 KB; update bounds them (see there).
type ctxRegular struct{ a, b, c, n int32 }

// ctxRun holds A, N and Nn of a run interruption context (365 and 366).
type ctxRun struct{ a, n, nn int }

type scan struct {
	ns        int    // components in the scan
	comps     [4]int // frame component index of each scan component
	ilv       int    // 0 none, 1 line, 2 sample
	width     int
	height    int
	restart   int // lines per restart interval, 0 none
	transform int // HP colour transform (applied on output)

	maxval, near, rng, qbpp, limit, reset int
	pow2                                  bool // lossless: reconstruction is a mask (MAXVAL = 2^P-1)
	lut                                   []int8
	lutOff                                int

	ctx  [365]ctxRegular
	rctx [2]ctxRun
	br   bitReader
	err  error
}

// setup derives the coding parameters of A.2.1 and the gradient quantiser
// of A.3.3 from the precision, NEAR and any LSE presets, validated as
// C.2.4.1.1. maxval is the LSE MAXVAL, or 2^P-1 without one.
//
// A MAXVAL below 2^P-1 is handled as CharLS does, not as T.87 says:
// CharLS (and the DICOM toolkits built on it, dcmtk's fork included)
// derives RANGE, qbpp, LIMIT and the sample clamp from 2^P-1 and uses
// MAXVAL only to validate and default the thresholds. Its encoder does the
// same, so streams carrying such a MAXVAL in DICOM decode only this way.
// (With a custom RESET as well, CharLS clamps by bit mask instead; its own
// encoder then fails its reconstruction assertion, so no valid stream of
// that kind exists and it is not imitated.)
func (s *scan) setup(maxval, near, precision int, pr *params) error {
	maxP := 1<<uint(precision) - 1
	s.near = near
	s.rng = (maxP+2*near)/(2*near+1) + 1
	s.qbpp = bits.Len(uint(s.rng - 1))
	bpp := max(2, precision)
	s.limit = 2 * (bpp + max(8, bpp))
	t1, t2, t3 := defaultThresholds(maxval, near)
	if pr.t1 != 0 {
		if pr.t1 < near+1 || pr.t1 > maxval {
			return corrupt("LSE T1 %d outside %d..%d", pr.t1, near+1, maxval)
		}
		t1 = pr.t1
	}
	if pr.t2 != 0 {
		if pr.t2 < t1 || pr.t2 > maxval {
			return corrupt("LSE T2 %d outside %d..%d", pr.t2, t1, maxval)
		}
		t2 = pr.t2
	}
	if pr.t3 != 0 {
		if pr.t3 < t2 || pr.t3 > maxval {
			return corrupt("LSE T3 %d outside %d..%d", pr.t3, t2, maxval)
		}
		t3 = pr.t3
	}
	s.reset = 64
	if pr.reset != 0 {
		if pr.reset < 3 || pr.reset > max(255, maxval) {
			return corrupt("LSE RESET %d", pr.reset)
		}
		s.reset = pr.reset
	}
	s.maxval = maxP
	s.pow2 = near == 0
	d1, d2, d3 := defaultThresholds(maxP, 0)
	s.lut, s.lutOff = quantLUT(maxP, near, t1, t2, t3, near == 0 && t1 == d1 && t2 == d2 && t3 == d3)
	return nil
}

// defaultThresholds computes T1, T2, T3 as C.2.4.1.1.1.
func defaultThresholds(maxval, near int) (t1, t2, t3 int) {
	clamp := func(i, j int) int {
		if i > maxval || i < j {
			return j
		}
		return i
	}
	if maxval >= 128 {
		f := (min(maxval, 4095) + 128) / 256
		t1 = clamp(f*(3-2)+2+3*near, near+1)
		t2 = clamp(f*(7-3)+3+5*near, t1)
		t3 = clamp(f*(21-4)+4+7*near, t2)
		return
	}
	f := 256 / (maxval + 1)
	t1 = clamp(max(2, 3/f+3*near), near+1)
	t2 = clamp(max(3, 7/f+5*near), t1)
	t3 = clamp(max(4, 21/f+7*near), t2)
	return
}

// Lossless default-threshold quantisers are the common case (every DICOM
// encoder writes them): built once per precision, shared read-only.
var (
	lutOnce [17]sync.Once
	lutPow2 [17][]int8
)

// quantLUT returns Q(d) (A.3.3, code segment A.4) for d in -maxval..maxval
// at index d+maxval.
func quantLUT(maxval, near, t1, t2, t3 int, defaults bool) ([]int8, int) {
	build := func() []int8 {
		l := make([]int8, 2*maxval+1)
		// Fill by ranges: -4 for d <= -T3 ... 0 for |d| <= NEAR ... 4 for
		// d >= T3 (a switch per entry costs a millisecond at 16 bits).
		bounds := [...]struct {
			lo int // first d of the range
			q  int8
		}{{-maxval, -4}, {-t3 + 1, -3}, {-t2 + 1, -2}, {-t1 + 1, -1}, {-near, 0}, {near + 1, 1}, {t1, 2}, {t2, 3}, {t3, 4}, {maxval + 1, 0}}
		for i := 0; i+1 < len(bounds); i++ {
			lo, hi := max(bounds[i].lo, -maxval), min(bounds[i+1].lo, maxval+1)
			for d := lo; d < hi; d++ {
				l[d+maxval] = bounds[i].q
			}
		}
		return l
	}
	if p := bits.Len(uint(maxval)); defaults && near == 0 && maxval == 1<<p-1 {
		lutOnce[p].Do(func() { lutPow2[p] = build() })
		return lutPow2[p], maxval
	}
	return build(), maxval
}

// resetContexts initialises A, B, C, N and Nn (A.2.1 steps 1-2), at the
// start of a scan and after each restart marker.
func (s *scan) resetContexts() {
	a := int32(max(2, (s.rng+32)/64))
	for i := range s.ctx {
		s.ctx[i] = ctxRegular{a: a, n: 1}
	}
	s.rctx[0] = ctxRun{a: int(a), n: 1}
	s.rctx[1] = ctxRun{a: int(a), n: 1}
}

func (s *scan) fail(format string, a ...any) {
	if s.err == nil {
		s.err = corrupt(format, a...)
	}
}

// decode decodes the scan's entropy-coded data, which starts at data[0],
// into out. It returns the offset of the marker that ends the scan.
func (s *scan) decode(data []byte, out *output) (int, error) {
	w, ns := s.width, s.ns
	s.br = bitReader{b: data}
	s.resetContexts()
	var ri [4]int // RUNindex per component (line interleave keeps one each)
	var lines [][2][]int32
	if s.ilv == 2 {
		lines = make([][2][]int32, 1)
		lines[0] = [2][]int32{make([]int32, (w+2)*ns), make([]int32, (w+2)*ns)}
	} else {
		lines = make([][2][]int32, ns)
		buf := make([]int32, 2*ns*(w+2))
		for c := range lines {
			lines[c] = [2][]int32{buf[2*c*(w+2) : (2*c+1)*(w+2)], buf[(2*c+1)*(w+2) : (2*c+2)*(w+2)]}
		}
	}
	rst := 0
	for y := 0; y < s.height; y++ {
		if s.restart > 0 && y > 0 && y%s.restart == 0 {
			if err := s.br.restartMarker(rst); err != nil {
				return 0, err
			}
			rst = (rst + 1) & 7
			s.resetContexts()
			ri = [4]int{}
			for _, l := range lines {
				clear(l[0])
				clear(l[1])
			}
		}
		for c := range lines {
			lines[c][0], lines[c][1] = lines[c][1], lines[c][0] // [0] previous, [1] current
		}
		if s.ilv == 2 {
			s.lineSample(lines[0][0], lines[0][1], &ri[0])
		} else {
			for c := range lines {
				s.line(lines[c][0], lines[c][1], &ri[c])
				if s.err != nil {
					break
				}
			}
		}
		if s.err != nil {
			return 0, s.err
		}
		if s.br.overrun() {
			return 0, corrupt("entropy-coded data ends at line %d of %d", y+1, s.height)
		}
		out.put(s, y, lines)
	}
	return s.br.markerAfter(), nil
}

// med is the median edge detector predictor (A.4.1, code segment A.5).
func med(ra, rb, rc int) int {
	mx, mn := ra, rb
	if ra < rb {
		mx, mn = rb, ra
	}
	if rc >= mx {
		return mn
	}
	if rc <= mn {
		return mx
	}
	return ra + rb - rc
}

// line decodes one line of one component. prev and cur hold the line
// above and this line at indices 1..w, with edge samples at 0 and w+1
// (A.2.1: Ra and Rc at the start of a line come from the line above).
//
// This is the hot loop of every grey-scale image, so it inlines regular
// (same steps, same comments there) and keeps the bit accumulator in
// locals, handing it back to s.br around the calls that read bits.
func (s *scan) line(prev, cur []int32, ri *int) {
	w := s.width
	prev, cur = prev[:w+2], cur[:w+2]
	prev[w+1] = prev[w]
	cur[0] = prev[1]
	lut, off := s.lut, s.lutOff
	ctx := &s.ctx
	maxval, near, reset, pow2 := s.maxval, s.near, s.reset, s.pow2
	esc := s.limit - s.qbpp - 1
	br := &s.br
	acc, nb := br.acc, br.n
	rb, rd := int(prev[0]), int(prev[1])
	for x := 1; x <= w; {
		ra := int(cur[x-1])
		rc := rb
		rb = rd
		rd = int(prev[x+1])
		qs := (int(lut[rd-rb+off])*9+int(lut[rb-rc+off]))*9 + int(lut[rc-ra+off])
		if qs == 0 {
			br.acc, br.n = acc, nb
			x += s.run(prev, cur, x, ri)
			acc, nb = br.acc, br.n
			if s.err != nil {
				return
			}
			rb, rd = int(prev[x-1]), int(prev[x])
			continue
		}
		sign := qs >> 63
		c := &ctx[(qs^sign)-sign]
		a, b, n := int(c.a), int(c.b), int(c.n)
		// k = min{k : N<<k >= A}: N<<(len(A)-len(N)) has A's bit length.
		k := max(0, bits.Len32(uint32(a))-bits.Len32(uint32(n)))
		if n<<uint(k) < a {
			k++
		}
		if k >= 16 {
			s.fail("Golomb parameter %d", k)
			return
		}
		px := med(ra, rb, rc) + (int(c.c) ^ sign) - sign
		if px > maxval {
			px = maxval
		} else if px < 0 {
			px = 0
		}
		if nb < 32 {
			br.acc, br.n = acc, nb
			br.fill()
			acc, nb = br.acc, br.n
		}
		var m int
		if z := bits.LeadingZeros64(acc); z < esc && z+1+k <= nb {
			m = z<<uint(k) | int(acc<<uint(z+1)>>1>>uint(63-k))
			acc <<= uint(z + 1 + k)
			nb -= z + 1 + k
		} else {
			br.acc, br.n = acc, nb
			m = s.golombSlow(k, s.limit)
			acc, nb = br.acc, br.n
		}
		if m > 131071 {
			s.fail("prediction error out of range")
			return
		}
		e := (m >> 1) ^ -(m & 1)
		if k == 0 && near == 0 {
			e ^= (2*b + n - 1) >> 63
		}
		b += e * (2*near + 1)
		if e < 0 {
			a -= e
		} else {
			a += e
		}
		if a >= 1<<24 || b >= 1<<24 || b <= -(1<<24) {
			s.fail("context statistics overflow")
			return
		}
		if n == reset {
			a >>= 1
			b >>= 1
			n >>= 1
		}
		n++
		cc := int(c.c)
		if b+n <= 0 {
			b += n
			if b <= -n {
				b = -n + 1
			}
			if cc > -128 {
				cc--
			}
		} else if b > 0 {
			b -= n
			if b > 0 {
				b = 0
			}
			if cc < 127 {
				cc++
			}
		}
		*c = ctxRegular{a: int32(a), b: int32(b), c: int32(cc), n: int32(n)}
		e = (e ^ sign) - sign
		if pow2 {
			cur[x] = int32((px + e) & maxval)
		} else {
			cur[x] = int32(s.reconstruct(px, e))
		}
		x++
	}
	br.acc, br.n = acc, nb
}

// regular decodes one sample in regular mode (A.4-A.6) given the context
// number qs (negative: SIGN = -1) and the MED prediction px.
func (s *scan) regular(qs, px int) int {
	sign := qs >> 63
	c := &s.ctx[(qs^sign)-sign]
	a, b, n := int(c.a), int(c.b), int(c.n)
	k := max(0, bits.Len32(uint32(a))-bits.Len32(uint32(n)))
	if n<<uint(k) < a {
		k++
	}
	if k >= 16 { // as CharLS: no valid stream gets here
		s.fail("Golomb parameter %d", k)
		return 0
	}
	// Prediction correction (A.4.2, code segment A.6).
	px += (int(c.c) ^ sign) - sign
	if px > s.maxval {
		px = s.maxval
	} else if px < 0 {
		px = 0
	}
	m := s.golomb(k, s.limit)
	if m > 131071 {
		s.fail("prediction error out of range")
		return 0
	}
	// Inverse error mapping (A.5.2, code segment A.11).
	e := (m >> 1) ^ -(m & 1)
	if k == 0 && s.near == 0 {
		e ^= (2*b + n - 1) >> 63
	}
	// Context update (A.6.1, A.6.2: code segments A.12, A.13).
	b += e * (2*s.near + 1)
	if e < 0 {
		a -= e
	} else {
		a += e
	}
	if a >= 1<<24 || b >= 1<<24 || b <= -(1<<24) {
		s.fail("context statistics overflow")
		return 0
	}
	if n == s.reset {
		a >>= 1
		b >>= 1
		n >>= 1
	}
	n++
	cc := int(c.c)
	if b+n <= 0 {
		b += n
		if b <= -n {
			b = -n + 1
		}
		if cc > -128 {
			cc--
		}
	} else if b > 0 {
		b -= n
		if b > 0 {
			b = 0
		}
		if cc < 127 {
			cc++
		}
	}
	*c = ctxRegular{a: int32(a), b: int32(b), c: int32(cc), n: int32(n)}
	return s.reconstruct(px, (e^sign)-sign)
}

// reconstruct adds the dequantised error to the prediction modulo RANGE
// and clamps to 0..MAXVAL (A.4.5, code segment A.8 inverted).
func (s *scan) reconstruct(px, e int) int {
	if s.pow2 {
		return (px + e) & s.maxval
	}
	q := 2*s.near + 1
	v := px + e*q
	if v < -s.near {
		v += s.rng * q
	} else if v > s.maxval+s.near {
		v -= s.rng * q
	}
	if v < 0 {
		return 0
	}
	if v > s.maxval {
		return s.maxval
	}
	return v
}

// golomb reads a limited-length Golomb code with parameter k (A.5.3): a
// unary prefix and k bits, or, after LIMIT-qbpp-1 zeros, an escape with
// qbpp bits holding the mapped value minus one.
func (s *scan) golomb(k, limit int) int {
	r := &s.br
	if r.n < 32 {
		r.fill()
	}
	z := bits.LeadingZeros64(r.acc)
	if z < limit-s.qbpp-1 && z+1+k <= r.n {
		v := int(r.acc << uint(z+1) >> uint(64-k))
		r.acc <<= uint(z + 1 + k)
		r.n -= z + 1 + k
		return z<<uint(k) | v
	}
	return s.golombSlow(k, limit)
}

func (s *scan) golombSlow(k, limit int) int {
	r := &s.br
	r.fill() // at least 57 bits: more than the longest prefix (47 zeros)
	z := bits.LeadingZeros64(r.acc)
	esc := limit - s.qbpp - 1
	if z > esc {
		s.fail("Golomb code with %d leading zeros (limit %d)", z, esc)
		return 0
	}
	r.skip(z + 1)
	if z == esc {
		return r.read(s.qbpp) + 1
	}
	return z<<uint(k) | r.read(k)
}

// run decodes run mode from column x (A.7): the run of samples equal to
// Ra, then the interruption sample unless the run reaches the end of the
// line. It returns the number of samples decoded (at least one).
func (s *scan) run(prev, cur []int32, x int, ri *int) int {
	w := s.width
	ra := cur[x-1]
	n := s.runLength(w-x+1, ri)
	for i := x; i < x+n; i++ {
		cur[i] = ra
	}
	if x+n > w {
		return n
	}
	rb := int(prev[x+n])
	cur[x+n] = int32(s.interrupt(int(ra), rb, *ri))
	if *ri > 0 {
		*ri--
	}
	return n + 1
}

// runLength decodes a run length of at most rem samples (A.7.1.2).
func (s *scan) runLength(rem int, ri *int) int {
	r := &s.br
	i := 0
	for {
		if r.n == 0 {
			r.fill()
		}
		bit := r.acc >> 63
		r.acc <<= 1
		r.n--
		if bit == 0 {
			break
		}
		cnt := min(1<<uint(j[*ri]), rem-i)
		i += cnt
		if cnt == 1<<uint(j[*ri]) && *ri < 31 {
			*ri++
		}
		if i == rem {
			return i
		}
	}
	if jj := j[*ri]; jj > 0 {
		i += r.read(jj)
	}
	if i > rem {
		s.fail("run of %d samples with %d left in the line", i, rem)
		return rem
	}
	return i
}

// interrupt decodes the run interruption sample of a one-component line
// (A.7.2).
func (s *scan) interrupt(ra, rb, ri int) int {
	if d := ra - rb; d <= s.near && d >= -s.near {
		return s.reconstruct(ra, s.interruptError(1, ri))
	}
	e := s.interruptError(0, ri)
	if rb < ra {
		e = -e
	}
	return s.reconstruct(rb, e)
}

// interruptError decodes Errval of a run interruption sample with context
// 365+t (code segments A.20-A.23, inverted).
func (s *scan) interruptError(t, ri int) int {
	c := &s.rctx[t]
	temp := c.a + (c.n>>1)*t
	k := 0
	for c.n<<k < temp {
		k++
		if k > 24 {
			s.fail("run interruption Golomb parameter %d", k)
			return 0
		}
	}
	m := s.golomb(k, s.limit-j[ri]-1)
	if m > 131071 {
		s.fail("run interruption error out of range")
		return 0
	}
	tt := m + t
	mp := tt & 1
	abs := (tt + mp) >> 1
	e := abs
	if (k != 0 || 2*c.nn >= c.n) == (mp == 1) {
		e = -abs
	}
	if e < 0 {
		c.nn++
	}
	c.a += (m + 1 - t) >> 1
	if c.n == s.reset {
		c.a >>= 1
		c.n >>= 1
		c.nn >>= 1
	}
	c.n++
	return e
}

// lineSample decodes one line of a sample-interleaved scan: ns samples per
// pixel, pixel x at [x*ns, x*ns+ns).
func (s *scan) lineSample(prev, cur []int32, ri *int) {
	w, ns := s.width, s.ns
	prev, cur = prev[:(w+2)*ns], cur[:(w+2)*ns]
	for c := 0; c < ns; c++ {
		prev[(w+1)*ns+c] = prev[w*ns+c]
		cur[c] = prev[ns+c]
	}
	lut, off := s.lut, s.lutOff
	var qs [4]int
	for x := 1; x <= w; {
		p := x * ns
		zero := true
		for c := 0; c < ns; c++ {
			i := p + c
			ra, rb, rc, rd := int(cur[i-ns]), int(prev[i]), int(prev[i-ns]), int(prev[i+ns])
			qs[c] = (int(lut[rd-rb+off])*9+int(lut[rb-rc+off]))*9 + int(lut[rc-ra+off])
			if qs[c] != 0 {
				zero = false
			}
		}
		if !zero {
			for c := 0; c < ns; c++ {
				i := p + c
				cur[i] = int32(s.regular(qs[c], med(int(cur[i-ns]), int(prev[i]), int(prev[i-ns]))))
			}
			x++
			continue
		}
		n := s.runLength(w-x+1, ri)
		for i := p; i < p+n*ns; i += ns {
			copy(cur[i:i+ns], cur[p-ns:p])
		}
		x += n
		if x <= w {
			// Interruption: every component uses context 365 and Rb
			// as the prediction (CharLS; T.87 A.7.2 for ILV 2).
			q := x * ns
			for c := 0; c < ns; c++ {
				ra, rb := int(cur[p-ns+c]), int(prev[q+c])
				e := s.interruptError(0, *ri)
				if rb < ra {
					e = -e
				}
				cur[q+c] = int32(s.reconstruct(rb, e))
			}
			if *ri > 0 {
				*ri--
			}
			x++
		}
		if s.err != nil {
			return
		}
	}
}

// bitReader reads JPEG-LS entropy-coded bits (A.1): after a 0xFF byte the
// next byte carries only 7 bits; 0xFF followed by a byte with its top bit
// set is a marker and ends the data. Past the end it feeds zero bytes and
// counts them, so a truncated stream is detected (overrun) instead of
// being read beyond its end.
type bitReader struct {
	b   []byte
	p   int
	acc uint64 // valid bits at the top, zeros below
	n   int    // number of valid bits in acc
	ff  bool   // the last byte loaded was 0xFF
	pad int    // zero bytes fed past the end of the data
}

func (r *bitReader) fill() {
	if !r.ff && r.p+8 <= len(r.b) {
		v := binary.BigEndian.Uint64(r.b[r.p:])
		if (^v-0x0101010101010101)&v&0x8080808080808080 == 0 { // no 0xFF byte
			k := (64 - r.n) >> 3
			sh := uint(64 - 8*k)
			r.acc |= v >> sh << (sh - uint(r.n))
			r.n += 8 * k
			r.p += k
			return
		}
	}
	r.fillSlow()
}

func (r *bitReader) fillSlow() {
	for r.n <= 56 {
		if r.p >= len(r.b) {
			r.n += 8
			r.pad++
			continue
		}
		c := r.b[r.p]
		if r.ff {
			if c >= 0x80 { // cannot follow a data 0xFF: treat as the end
				r.n += 8
				r.pad++
				continue
			}
			r.acc |= uint64(c) << uint(57-r.n)
			r.n += 7
			r.p++
			r.ff = false
			continue
		}
		if c == 0xFF {
			if r.p+1 < len(r.b) && r.b[r.p+1] >= 0x80 { // a marker ends the data
				r.n += 8
				r.pad++
				continue
			}
			r.ff = true
		}
		r.acc |= uint64(c) << uint(56-r.n)
		r.n += 8
		r.p++
	}
}

func (r *bitReader) skip(k int) {
	r.acc <<= uint(k)
	r.n -= k
}

// read returns the next k bits (k <= 32).
func (r *bitReader) read(k int) int {
	if r.n < k {
		r.fill()
	}
	v := int(r.acc >> uint(64-k)) // k == 0: a shift by 64 gives 0
	r.acc <<= uint(k)
	r.n -= k
	return v
}

// overrun reports whether bits past the end of the data were consumed.
func (r *bitReader) overrun() bool { return r.pad*8 > r.n }

// markerAfter returns the offset of the first marker at or after the read
// position: the bytes in between can only be the padding of the last byte.
func (r *bitReader) markerAfter() int {
	q := r.p
	for q+1 < len(r.b) && !(r.b[q] == 0xFF && r.b[q+1] >= 0x80) {
		q++
	}
	if q+1 >= len(r.b) {
		return len(r.b)
	}
	return q
}

// restartMarker ends a restart interval: the data must continue with
// RSTm, m counting 0..7 (C.2.5); bit reading restarts after it.
func (r *bitReader) restartMarker(m int) error {
	if r.overrun() {
		return corrupt("restart interval data cut short")
	}
	q := r.markerAfter()
	for q+1 < len(r.b) && r.b[q+1] == 0xFF {
		q++
	}
	if q+1 >= len(r.b) || r.b[q+1] != byte(0xD0+m) {
		return corrupt("missing RST%d marker", m)
	}
	*r = bitReader{b: r.b, p: q + 2}
	return nil
}

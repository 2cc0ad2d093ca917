package dicomfile

import (
	"compress/flate"
	"io"
)

// InflatedReader returns the byte stream that the offsets of a deflated
// file (f.Deflated) refer to: the first f.DatasetOffset bytes of r as they
// are (preamble and File Meta), followed by the inflated dataset. r must
// yield the same stored bytes that were parsed, from the start. For files
// that are not deflated it returns r unchanged.
func InflatedReader(r io.Reader, f *File) io.Reader {
	if !f.Deflated {
		return r
	}
	return io.MultiReader(
		io.LimitReader(r, f.DatasetOffset),
		&lazyInflate{r: r},
	)
}

// lazyInflate starts inflating only once the prefix has been consumed.
type lazyInflate struct {
	r  io.Reader
	fr io.ReadCloser
}

func (l *lazyInflate) Read(b []byte) (int, error) {
	if l.fr == nil {
		l.fr = flate.NewReader(l.r)
	}
	return l.fr.Read(b)
}

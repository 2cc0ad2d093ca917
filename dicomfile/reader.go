package dicomfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// reader is a forward-only byte source that counts the position of every
// byte it hands out, so that the walker can record offsets in the original
// file. Reads into memory are charged against a budget (Options.MaxHeaderBytes)
// so that no allocation is ever sized from an untrusted length alone.
type reader struct {
	br      *bufio.Reader
	pos     int64 // offset of the next byte in the (logical) file
	size    int64 // total size if known, else -1
	budget  int64 // remaining bytes that may be read into memory
	scratch [16]byte
	// src and seeker are set when the input can seek and its size is known:
	// then large values are skipped with Seek.
	src    io.Reader
	seeker io.Seeker
}

// seekMin is the smallest skip worth a Seek and a buffer refill.
const seekMin = 256 << 10

// where names what is being read, for error messages; it is formatted only
// when an error occurs, keeping the hot path free of fmt.
type where struct {
	label  string
	g, e   uint16
	tagged bool
}

func at(label string) where { return where{label: label} }

// elemAt names element (g,e), optionally with a label prefix ("sequence ").
func elemAt(label string, g, e uint16) where { return where{label: label, g: g, e: e, tagged: true} }

func (w where) String() string {
	if !w.tagged {
		return w.label
	}
	if w.g == 0x7FE0 && w.e == 0x0010 {
		return w.label + "Pixel Data (7FE0,0010)"
	}
	return w.label + tagName(w.g, w.e)
}

func (r *reader) truncatedAt(need int64, what where) error {
	return fmt.Errorf("%w: file ends at byte %d inside %s (%d more bytes declared): the upload was cut off or the file is corrupt; send the complete file again",
		ErrTruncated, r.endPos(), what.String(), need)
}

// endPos is the best knowledge of where the data ends.
func (r *reader) endPos() int64 {
	if r.size >= 0 {
		return r.size
	}
	return r.pos
}

// remaining returns how many bytes are left when the size is known, else -1.
func (r *reader) remaining() int64 {
	if r.size < 0 {
		return -1
	}
	return r.size - r.pos
}

// structCost is charged against the budget for every element, item and
// fragment, so that a file of millions of empty items cannot make the
// in-memory tree grow without bound.
const structCost = 32

// charge takes structCost from the budget.
func (r *reader) charge() error {
	r.budget -= structCost
	if r.budget < 0 {
		return fmt.Errorf("%w: more elements, items or fragments than the limit allows at byte %d: the file is not an ordinary DICOM object; check the sending device",
			ErrTooLarge, r.pos)
	}
	return nil
}

// small reads n <= 16 bytes into a scratch buffer valid until the next call.
func (r *reader) small(n int, what where) ([]byte, error) {
	b := r.scratch[:n]
	k, err := io.ReadFull(r.br, b)
	r.pos += int64(k)
	if err != nil {
		return nil, r.ioErr(err, int64(n-k), what)
	}
	return b, nil
}

func (r *reader) ioErr(err error, missing int64, what where) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		r.size = r.pos
		return r.truncatedAt(missing, what)
	}
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	return fmt.Errorf("dicomfile: reading %s at byte %d: %w", what.String(), r.pos, err)
}

// read reads n bytes into a new slice, charged against the budget.
func (r *reader) read(n int64, what where) ([]byte, error) {
	if rem := r.remaining(); rem >= 0 && n > rem {
		return nil, r.truncatedAt(n-rem, what)
	}
	if n > r.budget {
		return nil, fmt.Errorf("%w: %s at byte %d is %d bytes, over the limit for non-pixel data: the file is not an ordinary image header; check the sending device",
			ErrTooLarge, what.String(), r.pos, n)
	}
	r.budget -= n
	b := make([]byte, n)
	k, err := io.ReadFull(r.br, b)
	r.pos += int64(k)
	if err != nil {
		return nil, r.ioErr(err, n-int64(k), what)
	}
	return b, nil
}

// skip discards n bytes (bulk values are skipped, not read).
func (r *reader) skip(n int64, what where) error {
	if rem := r.remaining(); rem >= 0 && n > rem {
		// Consume what is there so the position is right for the message.
		return r.truncatedAt(n-rem, what)
	}
	if r.seeker != nil && n > int64(r.br.Buffered())+seekMin {
		// Jump over large values (pixel data) instead of copying them
		// through the buffer. The size was established by seeking to the
		// end in Parse, so a jump can never pass unnoticed beyond the data.
		buf := int64(r.br.Buffered())
		r.br.Discard(int(buf))
		if _, err := r.seeker.Seek(n-buf, io.SeekCurrent); err != nil {
			return fmt.Errorf("dicomfile: skipping %s at byte %d: %w", what.String(), r.pos, err)
		}
		r.pos += n
		r.br.Reset(r.src)
		return nil
	}
	for n > 0 {
		chunk := n
		if chunk > 1<<30 {
			chunk = 1 << 30
		}
		k, err := r.br.Discard(int(chunk))
		r.pos += int64(k)
		n -= int64(k)
		if err != nil {
			return r.ioErr(err, n, what)
		}
	}
	return nil
}

// peek returns up to n upcoming bytes without consuming them (fewer at EOF).
func (r *reader) peek(n int) []byte {
	b, _ := r.br.Peek(n)
	return b
}

// atEOF reports whether no bytes remain.
func (r *reader) atEOF() bool {
	if r.size >= 0 && r.pos >= r.size {
		return true
	}
	_, err := r.br.Peek(1)
	// Fewer bytes than the caller said the file has, or a read error (e.g.
	// a corrupt deflate stream): not EOF, so that the next read reports it.
	return errors.Is(err, io.EOF) && r.size < 0
}

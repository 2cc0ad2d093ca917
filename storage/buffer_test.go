package storage_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/huren-health/huren/storage"
)

func TestBufferSealedDigest(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 50_000)
	h := sha256.Sum256(data)
	want := hex.EncodeToString(h[:])
	fill := func() *storage.Buffer {
		var b storage.Buffer
		b.Grow(len(data) + 1)
		if n, err := b.ReadFrom(bytes.NewReader(data)); err != nil || n != int64(len(data)) {
			t.Fatalf("ReadFrom = %d, %v", n, err)
		}
		return &b
	}
	tests := []struct {
		name   string
		reader func() io.Reader
		ok     bool
	}{
		{"sealed, unread", func() io.Reader { b := fill(); b.Seal(); return b.Reader() }, true},
		{"unsealed", func() io.Reader { return fill().Reader() }, false},
		{"partly read", func() io.Reader {
			b := fill()
			b.Seal()
			r := b.Reader()
			r.Read(make([]byte, 10))
			return r
		}, false},
		{"buffer reset since", func() io.Reader {
			b := fill()
			b.Seal()
			r := b.Reader()
			b.Reset()
			b.Write(data)
			b.Seal()
			return r
		}, false},
		{"other reader", func() io.Reader { return bytes.NewReader(data) }, false},
		{"nil", func() io.Reader { return nil }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sha, size, ok := storage.SealedDigest(tc.reader())
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if ok && (sha != want || size != int64(len(data))) {
				t.Fatalf("digest = %s/%d, want %s/%d", sha, size, want, len(data))
			}
		})
	}
}

func TestBufferSealedRefusesWrites(t *testing.T) {
	var b storage.Buffer
	b.Write([]byte("abc"))
	sum := b.SHA256()
	if _, err := b.Write([]byte("d")); !errors.Is(err, storage.ErrBufferSealed) {
		t.Fatalf("Write after seal = %v", err)
	}
	if _, err := b.ReadFrom(strings.NewReader("d")); !errors.Is(err, storage.ErrBufferSealed) {
		t.Fatalf("ReadFrom after seal = %v", err)
	}
	if h := sha256.Sum256([]byte("abc")); sum != hex.EncodeToString(h[:]) || b.Len() != 3 {
		t.Fatalf("sum %s len %d", sum, b.Len())
	}
	b.Reset()
	if b.Len() != 0 {
		t.Fatal("Reset kept bytes")
	}
	b.Write([]byte("x"))
	if h := sha256.Sum256([]byte("x")); b.SHA256() != hex.EncodeToString(h[:]) {
		t.Fatal("digest after Reset covers old bytes")
	}
}

// Package storagetest is the acceptance suite for storage.Store. Every
// backend (storage/fs, storage/minio) and every decorator
// (storage/instrumented) runs it with one line:
//
//	func TestStore(t *testing.T) { storagetest.Run(t, newStore) }
//
// Each subtest checks one sentence of the contract written in
// storage/store.go, so a new backend is done when Run passes.
//
// It also provides Flaky, a wrapper around a real backend that can be switched
// to fail every call with storage.ErrUnavailable, for outage tests elsewhere.
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/huren-health/huren/storage"
)

// BigObjectEnv overrides the size, in MiB, of the object streamed by the
// LargeObjectBoundedMemory subtest (default 1024). 0 skips that subtest.
const BigObjectEnv = "HUREN_TEST_BIG_OBJECT_MB"

// Run runs the whole contract suite. newStore must return a fresh, empty
// store each time it is called (a new directory, bucket or key prefix) and
// arrange its own cleanup with t.Cleanup. Some objects are a little over
// 16 MiB so that backends with a part size of 16 MiB (storage/minio) run
// their multipart paths too. Subtests run one after another, so memory
// measurements are not disturbed by the suite itself.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"PutGetRoundTrip", testPutGetRoundTrip},
		{"PutDefaultsContentType", testPutDefaultContentType},
		{"PutReplacesExisting", testPutReplaces},
		{"MissingKeyIsNotFound", testMissing},
		{"GetRange", testGetRange},
		{"PutIfAbsent", testPutIfAbsent},
		{"PutIfAbsentConcurrentOneWinner", testPutIfAbsentConcurrent},
		{"PutConcurrentWritersNeverMix", testPutConcurrent},
		{"FailedPutLeavesPrevious", testFailedPut},
		{"SizeAndDigestMismatch", testMismatch},
		{"ListPrefixOrder", testList},
		{"ListStopsOnCallbackError", testListStop},
		{"ListSkipsInFlightWrites", testListInFlight},
		{"DeleteIdempotent", testDelete},
		{"InvalidKeysRejected", testInvalidKeys},
		{"CloseTwice", testCloseTwice},
		{"LargeObjectBoundedMemory", testLarge},
		{"MetadataTravelsWithObject", testMetadata},
		{"LazyPutIsAtomicAndReadable", testLazy},
		{"SealedBufferReader", testSealedBuffer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// ---- helpers ----

func ctxFor(t *testing.T) context.Context {
	return t.Context()
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// content returns n deterministic bytes that differ per seed.
func content(seed, n int) []byte {
	b := make([]byte, n)
	fill(uint64(seed)+1, b)
	return b
}

// fill writes a xorshift64 stream seeded with s into b and returns the next state.
func fill(s uint64, b []byte) uint64 {
	if s == 0 {
		s = 0x9e3779b97f4a7c15
	}
	for i := 0; i < len(b); i += 8 {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(s >> (8 * j))
		}
	}
	return s
}

func put(t *testing.T, s storage.Store, key string, b []byte, ct string) storage.Info {
	t.Helper()
	info, err := s.Put(ctxFor(t), key, bytes.NewReader(b), storage.PutOptions{ContentType: ct, Size: int64(len(b))})
	if err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(b), err)
	}
	return info
}

func get(t *testing.T, s storage.Store, key string) ([]byte, storage.Info) {
	t.Helper()
	rc, info, err := s.Get(ctxFor(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc) // test data only: bounded by what the test wrote
	if err != nil {
		t.Fatalf("Get(%q) read: %v", key, err)
	}
	return b, info
}

func wantNotFound(t *testing.T, s storage.Store, key string) {
	t.Helper()
	if _, err := s.Stat(ctxFor(t), key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat(%q) = %v, want ErrNotFound", key, err)
	}
	if rc, _, err := s.Get(ctxFor(t), key); !errors.Is(err, storage.ErrNotFound) {
		if err == nil {
			rc.Close()
		}
		t.Fatalf("Get(%q) = %v, want ErrNotFound", key, err)
	}
}

func wantContent(t *testing.T, s storage.Store, key string, want []byte) {
	t.Helper()
	got, info := get(t, s, key)
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %d bytes (sha %s), want %d bytes (sha %s)", key, len(got), sum(got), len(want), sum(want))
	}
	if info.Size != int64(len(want)) || info.SHA256 != sum(want) {
		t.Fatalf("Get(%q) info = size %d sha %s, want size %d sha %s", key, info.Size, info.SHA256, len(want), sum(want))
	}
	st, err := s.Stat(ctxFor(t), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	if st.Size != int64(len(want)) || st.SHA256 != sum(want) {
		t.Fatalf("Stat(%q) = size %d sha %s, want size %d sha %s", key, st.Size, st.SHA256, len(want), sum(want))
	}
}

func listAll(t *testing.T, s storage.Store, prefix string) []storage.Info {
	t.Helper()
	var out []storage.Info
	if err := s.List(ctxFor(t), prefix, func(i storage.Info) error {
		out = append(out, i)
		return nil
	}); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return out
}

// ---- subtests ----

// Put streams r into key, computing SHA-256 and size while writing.
func testPutGetRoundTrip(t *testing.T, s storage.Store) {
	// 1 MiB and 16 MiB sit on buffer and part boundaries of storage/minio.
	sizes := []int{0, 1, 4096, 512 << 10, 1 << 20, 16 << 20, 17<<20 + 3}
	for i, n := range sizes {
		for _, knownSize := range []bool{true, false} {
			key := fmt.Sprintf("rt/%d/%v.bin", n, knownSize)
			b := content(i, n)
			opts := storage.PutOptions{ContentType: "application/dicom", Size: -1}
			if knownSize {
				opts.Size = int64(n)
				opts.SHA256 = sum(b)
			}
			before := time.Now().Add(-time.Minute)
			// iotest-style reader that hides WriterTo/Seeker so backends
			// cannot rely on them.
			info, err := s.Put(ctxFor(t), key, struct{ io.Reader }{bytes.NewReader(b)}, opts)
			if err != nil {
				t.Fatalf("Put(%q): %v", key, err)
			}
			want := storage.Info{Key: key, Size: int64(n), SHA256: sum(b), ContentType: "application/dicom"}
			if diff := cmp.Diff(want, info, cmpopts.IgnoreFields(storage.Info{}, "ModTime")); diff != "" {
				t.Errorf("Put(%q) info (-want +got):\n%s", key, diff)
			}
			if info.ModTime.Before(before) {
				t.Errorf("Put(%q) ModTime %v is not recent", key, info.ModTime)
			}
			got, ginfo := get(t, s, key)
			if !bytes.Equal(got, b) {
				t.Fatalf("Get(%q) returned %d bytes, want %d (content differs)", key, len(got), n)
			}
			if diff := cmp.Diff(want, ginfo, cmpopts.IgnoreFields(storage.Info{}, "ModTime")); diff != "" {
				t.Errorf("Get(%q) info (-want +got):\n%s", key, diff)
			}
			st, err := s.Stat(ctxFor(t), key)
			if err != nil {
				t.Fatalf("Stat(%q): %v", key, err)
			}
			if diff := cmp.Diff(want, st, cmpopts.IgnoreFields(storage.Info{}, "ModTime")); diff != "" {
				t.Errorf("Stat(%q) (-want +got):\n%s", key, diff)
			}
		}
	}
}

// PutOptions.ContentType empty means application/octet-stream.
func testPutDefaultContentType(t *testing.T, s storage.Store) {
	info := put(t, s, "ct/none", []byte("x"), "")
	if info.ContentType != "application/octet-stream" {
		t.Errorf("Put info ContentType = %q, want application/octet-stream", info.ContentType)
	}
	st, err := s.Stat(ctxFor(t), "ct/none")
	if err != nil {
		t.Fatal(err)
	}
	if st.ContentType != "application/octet-stream" {
		t.Errorf("Stat ContentType = %q, want application/octet-stream", st.ContentType)
	}
}

// Put replaces any existing object.
func testPutReplaces(t *testing.T, s storage.Store) {
	put(t, s, "re/x", content(1, 1000), "text/plain")
	b2 := content(2, 300)
	put(t, s, "re/x", b2, "application/json")
	wantContent(t, s, "re/x", b2)
	st, err := s.Stat(ctxFor(t), "re/x")
	if err != nil {
		t.Fatal(err)
	}
	if st.ContentType != "application/json" {
		t.Errorf("ContentType after replace = %q, want application/json", st.ContentType)
	}
	if n := len(listAll(t, s, "re/")); n != 1 {
		t.Errorf("List after replace has %d objects, want 1", n)
	}
}

// A missing key returns an error matching ErrNotFound.
func testMissing(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	put(t, s, "present/a", []byte("a"), "")
	for _, key := range []string{"absent", "present/b", "present/a/b", "present"} {
		if _, _, err := s.Get(ctx, key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", key, err)
		}
		if _, err := s.GetRange(ctx, key, 0, 1); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetRange(%q) = %v, want ErrNotFound", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want ErrNotFound", key, err)
		}
	}
}

// GetRange opens length bytes starting at offset; length < 0 means to the
// end; offset beyond size is ErrInvalidRange; a length past the end is
// truncated.
func testGetRange(t *testing.T, s storage.Store) {
	b := content(7, 1000)
	put(t, s, "range/x", b, "")
	put(t, s, "range/empty", nil, "")
	tests := []struct {
		key            string
		offset, length int64
		want           []byte
		wantErr        error
	}{
		{"range/x", 0, 10, b[:10], nil},
		{"range/x", 500, 100, b[500:600], nil},
		{"range/x", 990, 100, b[990:], nil},
		{"range/x", 0, -1, b, nil},
		{"range/x", 123, -1, b[123:], nil},
		{"range/x", 999, 1, b[999:], nil},
		{"range/x", 10, 0, []byte{}, nil},
		{"range/x", 1000, -1, []byte{}, nil},
		{"range/x", 1000, 5, []byte{}, nil},
		{"range/x", 1001, 1, nil, storage.ErrInvalidRange},
		{"range/x", 1 << 40, -1, nil, storage.ErrInvalidRange},
		{"range/x", -1, 5, nil, storage.ErrInvalidRange},
		{"range/empty", 0, -1, []byte{}, nil},
		{"range/empty", 0, 10, []byte{}, nil},
		{"range/empty", 1, -1, nil, storage.ErrInvalidRange},
	}
	for _, tc := range tests {
		rc, err := s.GetRange(ctxFor(t), tc.key, tc.offset, tc.length)
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("GetRange(%q, %d, %d) = %v, want %v", tc.key, tc.offset, tc.length, err, tc.wantErr)
			}
			if err == nil {
				rc.Close()
			}
			continue
		}
		if err != nil {
			t.Errorf("GetRange(%q, %d, %d): %v", tc.key, tc.offset, tc.length, err)
			continue
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Errorf("GetRange(%q, %d, %d) read: %v", tc.key, tc.offset, tc.length, err)
			continue
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("GetRange(%q, %d, %d) = %d bytes, want %d bytes", tc.key, tc.offset, tc.length, len(got), len(tc.want))
		}
	}
}

// PutIfAbsent only succeeds when key does not exist yet; otherwise it returns
// the existing Info and ErrExists and leaves the object untouched.
func testPutIfAbsent(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	b1, b2 := content(1, 2000), content(2, 3000)
	info, err := s.PutIfAbsent(ctx, "pia/x", bytes.NewReader(b1), storage.PutOptions{ContentType: "application/dicom", Size: -1})
	if err != nil {
		t.Fatalf("first PutIfAbsent: %v", err)
	}
	if info.SHA256 != sum(b1) || info.Size != 2000 {
		t.Errorf("first PutIfAbsent info = %+v", info)
	}
	for _, size := range []int64{-1, 3000} {
		info, err = s.PutIfAbsent(ctx, "pia/x", bytes.NewReader(b2), storage.PutOptions{Size: size})
		if !errors.Is(err, storage.ErrExists) {
			t.Fatalf("second PutIfAbsent = %v, want ErrExists", err)
		}
		want := storage.Info{Key: "pia/x", Size: 2000, SHA256: sum(b1), ContentType: "application/dicom"}
		if diff := cmp.Diff(want, info, cmpopts.IgnoreFields(storage.Info{}, "ModTime")); diff != "" {
			t.Errorf("second PutIfAbsent info (-want +got):\n%s", diff)
		}
	}
	wantContent(t, s, "pia/x", b1)

	// After Delete the key is absent again.
	if err := s.Delete(ctx, "pia/x"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutIfAbsent(ctx, "pia/x", bytes.NewReader(b2), storage.PutOptions{Size: 3000}); err != nil {
		t.Fatalf("PutIfAbsent after Delete: %v", err)
	}
	wantContent(t, s, "pia/x", b2)
}

// Among concurrent PutIfAbsent callers on one key exactly one succeeds.
func testPutIfAbsentConcurrent(t *testing.T, s storage.Store) {
	const n = 8
	for round := range 3 {
		key := fmt.Sprintf("piac/%d", round)
		// Round 2 uses objects just over 16 MiB, large enough for the
		// multipart path of the MinIO backend.
		size := 64 << 10
		if round == 2 {
			size = 17 << 20
		}
		var (
			wg   sync.WaitGroup
			errs [n]error
			data [n][]byte
		)
		start := make(chan struct{})
		for i := range n {
			data[i] = content(100*round+i, size)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = s.PutIfAbsent(ctxFor(t), key, bytes.NewReader(data[i]), storage.PutOptions{Size: int64(size)})
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: writers %d and %d both won", round, winner, i)
				}
				winner = i
			case errors.Is(err, storage.ErrExists):
			default:
				t.Fatalf("round %d: writer %d: %v (want nil or ErrExists)", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer won", round)
		}
		wantContent(t, s, key, data[winner])
	}
}

// chunkReader yields b in small chunks, yielding the processor between them
// so that concurrent writers interleave.
type chunkReader struct {
	b     []byte
	chunk int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), c.chunk, len(c.b))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	runtime.Gosched()
	return n, nil
}

// Put replaces atomically: concurrent writers leave exactly one writer's
// complete content, never a mix.
func testPutConcurrent(t *testing.T, s storage.Store) {
	const n = 8
	const size = 1 << 20
	var data [n][]byte
	bySum := map[string]int{}
	for i := range n {
		data[i] = content(1000+i, size)
		bySum[sum(data[i])] = i
	}
	for round := range 3 {
		key := fmt.Sprintf("pc/%d", round)
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.Put(ctxFor(t), key, &chunkReader{b: data[i], chunk: 32 << 10}, storage.PutOptions{Size: -1})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("writer %d: %v", i, err)
			}
		}
		got, info := get(t, s, key)
		i, ok := bySum[sum(got)]
		if !ok {
			t.Fatalf("round %d: content (%d bytes, sha %s) is not any single writer's", round, len(got), sum(got))
		}
		if info.SHA256 != sum(data[i]) || info.Size != size {
			t.Fatalf("round %d: Info %+v does not describe the content (writer %d)", round, info, i)
		}
	}
}

var errBoom = errors.New("storagetest: reader failed on purpose")

// failingReader returns n bytes of data and then fails with err (or calls
// cancel and blocks until ctx is done, for the cancellation case).
type failingReader struct {
	data   []byte
	n      int
	cancel context.CancelFunc
	ctx    context.Context
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		if f.cancel != nil {
			f.cancel()
			<-f.ctx.Done()
			return 0, f.ctx.Err()
		}
		return 0, errBoom
	}
	k := min(len(p), f.n, len(f.data))
	copy(p, f.data[:k])
	f.data = f.data[k:]
	f.n -= k
	return k, nil
}

// Readers see either the old or the new content, never a partial object —
// including when r fails or ctx is cancelled mid-write.
func testFailedPut(t *testing.T, s storage.Store) {
	old := content(1, 5000)
	put(t, s, "fail/existing", old, "text/old")
	newData := content(2, 40<<20)
	for _, failAt := range []int{0, 100 << 10, 20 << 20} {
		for _, mode := range []string{"reader", "cancel"} {
			for _, existing := range []bool{true, false} {
				key := "fail/existing"
				if !existing {
					key = fmt.Sprintf("fail/new-%d-%s", failAt, mode)
				}
				for _, ifAbsent := range []bool{false, true} {
					if ifAbsent && existing {
						continue // would fail with ErrExists before reading
					}
					ctx, cancel := context.WithCancel(ctxFor(t))
					r := &failingReader{data: newData, n: failAt}
					if mode == "cancel" {
						r.cancel, r.ctx = cancel, ctx
					}
					putFn := s.Put
					if ifAbsent {
						putFn = s.PutIfAbsent
					}
					_, err := putFn(ctx, key, r, storage.PutOptions{Size: -1})
					cancel()
					if err == nil {
						t.Fatalf("Put(%q) with %s failing after %d bytes succeeded", key, mode, failAt)
					}
					if mode == "reader" && !errors.Is(err, errBoom) {
						t.Errorf("Put error %v does not wrap the reader's error", err)
					}
					if existing {
						wantContent(t, s, key, old)
					} else {
						wantNotFound(t, s, key)
					}
				}
			}
		}
	}
	got := listAll(t, s, "fail/")
	if len(got) != 1 || got[0].Key != "fail/existing" {
		t.Errorf("List after failed puts = %+v, want only fail/existing", got)
	}
}

// Size or SHA256 set and not matching: error, nothing stored.
func testMismatch(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	b := content(3, 100<<10)
	big := content(4, 20<<20)
	old := []byte("previous")
	tests := []struct {
		name string
		data []byte
		opts storage.PutOptions
		want error
	}{
		{"short", b, storage.PutOptions{Size: int64(len(b)) + 1}, storage.ErrSizeMismatch},
		{"long", b, storage.PutOptions{Size: int64(len(b)) - 1}, storage.ErrSizeMismatch},
		{"empty-vs-size", nil, storage.PutOptions{Size: 10}, storage.ErrSizeMismatch},
		{"digest", b, storage.PutOptions{Size: -1, SHA256: sum(old)}, storage.ErrDigestMismatch},
		{"digest-with-size", b, storage.PutOptions{Size: int64(len(b)), SHA256: sum(old)}, storage.ErrDigestMismatch},
		{"big-short", big, storage.PutOptions{Size: int64(len(big)) + 1}, storage.ErrSizeMismatch},
		{"big-long", big, storage.PutOptions{Size: int64(len(big)) - 1}, storage.ErrSizeMismatch},
		{"big-digest", big, storage.PutOptions{Size: -1, SHA256: sum(old)}, storage.ErrDigestMismatch},
	}
	for _, tc := range tests {
		for _, ifAbsent := range []bool{false, true} {
			// A sealed Buffer's reader carries its digest: a wrong caller
			// digest must still be caught without rehashing.
			for _, sealed := range []bool{false, true} {
				key := "mm/new-" + tc.name
				putFn := s.Put
				if ifAbsent {
					putFn = s.PutIfAbsent
				}
				if _, err := putFn(ctx, key, source(tc.data, sealed), tc.opts); !errors.Is(err, tc.want) {
					t.Errorf("%s (ifAbsent=%v, sealed=%v) = %v, want %v", tc.name, ifAbsent, sealed, err, tc.want)
				}
				wantNotFound(t, s, key)
			}
		}
		put(t, s, "mm/old", old, "")
		if _, err := s.Put(ctx, "mm/old", bytes.NewReader(tc.data), tc.opts); !errors.Is(err, tc.want) {
			t.Errorf("%s over existing = %v, want %v", tc.name, err, tc.want)
		}
		wantContent(t, s, "mm/old", old)
	}
	if got := listAll(t, s, "mm/"); len(got) != 1 {
		t.Errorf("List after mismatches = %+v, want only mm/old", got)
	}
}

// source reads b from a bytes.Reader, or from a sealed storage.Buffer.
func source(b []byte, sealed bool) io.Reader {
	if !sealed {
		return bytes.NewReader(b)
	}
	var buf storage.Buffer
	buf.Write(b)
	buf.Seal()
	return buf.Reader()
}

// A reader over a sealed storage.Buffer stores exactly its bytes under
// their digest; one that was partly read stores (and hashes) the rest.
func testSealedBuffer(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	b := content(11, 300<<10)
	for _, ifAbsent := range []bool{false, true} {
		putFn := s.Put
		if ifAbsent {
			putFn = s.PutIfAbsent
		}
		key := fmt.Sprintf("sealed/whole-%v", ifAbsent)
		info, err := putFn(ctx, key, source(b, true), storage.PutOptions{Size: int64(len(b)), SHA256: sum(b)})
		if err != nil || info.SHA256 != sum(b) || info.Size != int64(len(b)) {
			t.Fatalf("put sealed = %+v, %v", info, err)
		}
		wantContent(t, s, key, b)
		r := source(b, true)
		if _, err := io.CopyN(io.Discard, r, 1000); err != nil {
			t.Fatal(err)
		}
		key = fmt.Sprintf("sealed/rest-%v", ifAbsent)
		info, err = putFn(ctx, key, r, storage.PutOptions{})
		if err != nil || info.SHA256 != sum(b[1000:]) || info.Size != int64(len(b)-1000) {
			t.Fatalf("put partly read sealed reader = %+v, %v; want the rest's digest", info, err)
		}
		wantContent(t, s, key, b[1000:])
		if st, err := s.Stat(ctx, key); err != nil || st.SHA256 != sum(b[1000:]) {
			t.Fatalf("Stat = %+v, %v", st, err)
		}
	}
}

// List calls fn for every object whose key starts with prefix, in
// lexicographic key order, with sizes and hashes.
func testList(t *testing.T, s storage.Store) {
	keys := []string{"a.b", "a/b", "a/c/d", "a/c/e.dcm", "a0", "ab/x", "b/x", "a-z", "A/upper", "z"}
	want := map[string]storage.Info{}
	for i, k := range keys {
		b := content(i, 10+i)
		put(t, s, k, b, "application/x-test")
		want[k] = storage.Info{Key: k, Size: int64(len(b)), SHA256: sum(b), ContentType: "application/x-test"}
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"A/upper", "a-z", "a.b", "a/b", "a/c/d", "a/c/e.dcm", "a0", "ab/x", "b/x", "z"}},
		{"a", []string{"a-z", "a.b", "a/b", "a/c/d", "a/c/e.dcm", "a0", "ab/x"}},
		{"a/", []string{"a/b", "a/c/d", "a/c/e.dcm"}},
		{"a/c", []string{"a/c/d", "a/c/e.dcm"}},
		{"a/c/e", []string{"a/c/e.dcm"}},
		{"a/c/e.dcm", []string{"a/c/e.dcm"}},
		{"ab", []string{"ab/x"}},
		{"b/x", []string{"b/x"}},
		{"nothing", nil},
		{"nothing/deeper/", nil},
	}
	for _, tc := range tests {
		got := listAll(t, s, tc.prefix)
		var wantInfos []storage.Info
		for _, k := range tc.want {
			wantInfos = append(wantInfos, want[k])
		}
		if diff := cmp.Diff(wantInfos, got, cmpopts.IgnoreFields(storage.Info{}, "ModTime"), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("List(%q) (-want +got):\n%s", tc.prefix, diff)
		}
		for _, i := range got {
			if i.ModTime.IsZero() {
				t.Errorf("List(%q): %s has zero ModTime", tc.prefix, i.Key)
			}
		}
	}
}

// An error from fn stops the walk and is returned.
func testListStop(t *testing.T, s storage.Store) {
	for i := range 5 {
		put(t, s, fmt.Sprintf("stop/%d", i), []byte{byte(i)}, "")
	}
	stop := errors.New("enough")
	var seen []string
	err := s.List(ctxFor(t), "stop/", func(i storage.Info) error {
		seen = append(seen, i.Key)
		if len(seen) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("List = %v, want the callback's error", err)
	}
	if !slices.Equal(seen, []string{"stop/0", "stop/1"}) {
		t.Fatalf("List visited %v after stopping", seen)
	}
}

// gateReader yields first, signals started, then blocks until release.
type gateReader struct {
	first   []byte
	rest    []byte
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gateReader) Read(p []byte) (int, error) {
	if len(g.first) > 0 {
		n := copy(p, g.first)
		g.first = g.first[n:]
		return n, nil
	}
	g.once.Do(func() { close(g.started) })
	<-g.release
	if len(g.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.rest)
	g.rest = g.rest[n:]
	return n, nil
}

// Objects being written (not yet visible to Get) are never listed.
func testListInFlight(t *testing.T, s storage.Store) {
	put(t, s, "fl/done", []byte("done"), "")
	for _, size := range []int{64 << 10, 20 << 20} { // small and multipart-sized
		b := content(size, size)
		key := "fl/writing-" + strconv.Itoa(size)
		g := &gateReader{first: b[:size/2], rest: b[size/2:], started: make(chan struct{}), release: make(chan struct{})}
		done := make(chan error, 1)
		go func() {
			_, err := s.Put(ctxFor(t), key, g, storage.PutOptions{Size: -1})
			done <- err
		}()
		select {
		case <-g.started:
		case err := <-done:
			t.Fatalf("Put finished before its reader did: %v", err)
		}
		got := listAll(t, s, "fl/")
		if len(got) != 1 || got[0].Key != "fl/done" {
			t.Errorf("List during a write = %+v, want only fl/done", got)
		}
		if _, err := s.Stat(ctxFor(t), key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Stat during a write = %v, want ErrNotFound", err)
		}
		close(g.release)
		if err := <-done; err != nil {
			t.Fatalf("Put: %v", err)
		}
		wantContent(t, s, key, b)
		if err := s.Delete(ctxFor(t), key); err != nil {
			t.Fatal(err)
		}
	}
}

// Delete removes key; deleting a missing key is not an error.
func testDelete(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	put(t, s, "del/a/b/c", []byte("x"), "")
	put(t, s, "del/a/keep", []byte("y"), "")
	for range 2 {
		if err := s.Delete(ctx, "del/a/b/c"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		wantNotFound(t, s, "del/a/b/c")
	}
	if err := s.Delete(ctx, "del/never/existed"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	wantContent(t, s, "del/a/keep", []byte("y"))
	if got := listAll(t, s, "del/"); len(got) != 1 || got[0].Key != "del/a/keep" {
		t.Errorf("List after Delete = %+v", got)
	}
	// The key can be written again.
	put(t, s, "del/a/b/c", []byte("again"), "")
	wantContent(t, s, "del/a/b/c", []byte("again"))
}

// Invalid keys are rejected with ErrInvalidKey by every operation.
func testInvalidKeys(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	bad := []string{"", "/abs", "../x", "a/../../b", "a/..", "./a", "a/./b", `a\b`, `..\x`, "a//b", "a/", "nul\x00byte", "line\nbreak", string(make([]byte, 1025))}
	for _, key := range bad {
		if _, err := s.Put(ctx, key, bytes.NewReader([]byte("x")), storage.PutOptions{}); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.PutIfAbsent(ctx, key, bytes.NewReader([]byte("x")), storage.PutOptions{}); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("PutIfAbsent(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, _, err := s.Get(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.GetRange(ctx, key, 0, 1); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("GetRange(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, prefix := range []string{"/", "../", "a/../", `a\`, "a//"} {
		if err := s.List(ctx, prefix, func(storage.Info) error { return nil }); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("List(%q) = %v, want ErrInvalidKey", prefix, err)
		}
	}
	if got := listAll(t, s, ""); len(got) != 0 {
		t.Errorf("invalid keys left objects behind: %+v", got)
	}
}

// Close is safe to call more than once.
func testCloseTwice(t *testing.T, s storage.Store) {
	if err := s.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// genReader yields n deterministic bytes without holding them in memory:
// 1 MiB pseudo-random blocks, each stamped with its index in the first 8
// bytes, so lost, repeated or reordered parts change the digest. Serving
// blocks with copy keeps it fast under -race.
type genReader struct {
	n     int64
	index uint64
	block []byte
	have  []byte
}

func newGenReader(n int64) *genReader {
	b := make([]byte, 1<<20)
	fill(42, b)
	return &genReader{n: n, block: b}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.n <= 0 {
		return 0, io.EOF
	}
	if len(g.have) == 0 {
		binary.BigEndian.PutUint64(g.block, g.index)
		g.index++
		g.have = g.block
	}
	k := min(int64(len(p)), int64(len(g.have)), g.n)
	copy(p, g.have[:k])
	g.have = g.have[k:]
	g.n -= k
	return int(k), nil
}

// memPeak samples HeapInuse until stopped and reports the peak.
type memPeak struct {
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func startMemPeak() *memPeak {
	m := &memPeak{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		var ms runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > m.peak.Load() {
				m.peak.Store(ms.HeapInuse)
			}
			select {
			case <-m.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return m
}

func (m *memPeak) Stop() uint64 {
	close(m.stop)
	<-m.done
	return m.peak.Load()
}

// Put reads r to EOF; memory use is bounded regardless of size.
func testLarge(t *testing.T, s storage.Store) {
	if testing.Short() {
		t.Skip("large object test skipped in -short mode")
	}
	mb := int64(1024)
	if v := os.Getenv(BigObjectEnv); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			t.Fatalf("%s=%q: want a non-negative number of MiB", BigObjectEnv, v)
		}
		mb = n
	}
	if mb == 0 {
		t.Skipf("%s=0", BigObjectEnv)
	}
	size := mb << 20
	const budget = 64 << 20 // heap growth allowed, far below the object size

	h := sha256.New()
	if _, err := io.Copy(h, newGenReader(size)); err != nil {
		t.Fatal(err)
	}
	wantSum := hex.EncodeToString(h.Sum(nil))

	for _, knownSize := range []bool{false, true} {
		key := fmt.Sprintf("big/%v", knownSize)
		opts := storage.PutOptions{Size: -1, ContentType: "application/octet-stream"}
		if knownSize {
			opts.Size = size
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		peak := startMemPeak()
		start := time.Now()
		info, err := s.Put(ctxFor(t), key, newGenReader(size), opts)
		putDur := time.Since(start)
		peakHeap := peak.Stop()
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("Put %d MiB: %v", mb, err)
		}
		if info.Size != size || info.SHA256 != wantSum {
			t.Fatalf("Put info = size %d sha %s, want %d %s", info.Size, info.SHA256, size, wantSum)
		}
		growth := int64(peakHeap) - int64(before.HeapInuse)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("Put %d MiB (size known=%v): %v (%.0f MB/s), peak heap growth %.1f MiB, allocated %.1f MiB",
			mb, knownSize, putDur.Round(time.Millisecond), float64(size)/1e6/putDur.Seconds(), float64(growth)/(1<<20), float64(alloc)/(1<<20))
		if growth > budget {
			t.Errorf("Put of %d MiB grew the heap by %d MiB, want < %d MiB", mb, growth>>20, budget>>20)
		}
		if size > 4*budget && alloc > uint64(size/4) {
			t.Errorf("Put of %d MiB allocated %d MiB in total: the object is being buffered", mb, alloc>>20)
		}

		runtime.GC()
		runtime.ReadMemStats(&before)
		peak = startMemPeak()
		start = time.Now()
		rc, ginfo, err := s.Get(ctxFor(t), key)
		if err != nil {
			peak.Stop()
			t.Fatalf("Get: %v", err)
		}
		h.Reset()
		n, err := io.Copy(h, rc)
		rc.Close()
		getDur := time.Since(start)
		peakHeap = peak.Stop()
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("Get read: %v", err)
		}
		if n != size || hex.EncodeToString(h.Sum(nil)) != wantSum || ginfo.SHA256 != wantSum {
			t.Fatalf("Get returned %d bytes with a different digest", n)
		}
		growth = int64(peakHeap) - int64(before.HeapInuse)
		alloc = after.TotalAlloc - before.TotalAlloc
		t.Logf("Get %d MiB: %v (%.0f MB/s), peak heap growth %.1f MiB, allocated %.1f MiB",
			mb, getDur.Round(time.Millisecond), float64(size)/1e6/getDur.Seconds(), float64(growth)/(1<<20), float64(alloc)/(1<<20))
		if growth > budget {
			t.Errorf("Get of %d MiB grew the heap by %d MiB, want < %d MiB", mb, growth>>20, budget>>20)
		}
		if size > 4*budget && alloc > uint64(size/4) {
			t.Errorf("Get of %d MiB allocated %d MiB in total: the object is being buffered", mb, alloc>>20)
		}
		if err := s.Delete(ctxFor(t), key); err != nil {
			t.Fatal(err)
		}
	}
}

// Metadata given to Put comes back from Get and Stat exactly, for single and
// multipart objects; a replacing Put replaces it; invalid metadata stores
// nothing.
func testMetadata(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	meta := map[string]string{"site": "town-a", "via": "stow", "received": "2026-11-23T10:00:00.123Z", "remote": "[::1]:5432"}
	for _, n := range []int{100, 17 << 20} {
		for _, ifAbsent := range []bool{false, true} {
			key := fmt.Sprintf("meta/%d/%v", n, ifAbsent)
			b := content(n, n)
			opts := storage.PutOptions{ContentType: "application/dicom", Size: int64(n), Metadata: meta}
			var info storage.Info
			var err error
			if ifAbsent {
				info, err = s.PutIfAbsent(ctx, key, bytes.NewReader(b), opts)
			} else {
				info, err = s.Put(ctx, key, bytes.NewReader(b), opts)
			}
			if err != nil {
				t.Fatalf("put %s: %v", key, err)
			}
			if diff := cmp.Diff(meta, info.Metadata); diff != "" {
				t.Errorf("put %s: Info.Metadata (-want +got):\n%s", key, diff)
			}
			_, ginfo := get(t, s, key)
			if diff := cmp.Diff(meta, ginfo.Metadata); diff != "" {
				t.Errorf("Get %s: Metadata (-want +got):\n%s", key, diff)
			}
			st, err := s.Stat(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(meta, st.Metadata); diff != "" {
				t.Errorf("Stat %s: Metadata (-want +got):\n%s", key, diff)
			}
			for _, li := range listAll(t, s, key) {
				if li.Metadata != nil && !cmp.Equal(meta, li.Metadata) {
					t.Errorf("List %s: Metadata %v, want %v or none", key, li.Metadata, meta)
				}
			}
		}
	}
	// Replacing without metadata leaves none.
	put(t, s, "meta/100/false", []byte("plain"), "text/plain")
	if st, err := s.Stat(ctx, "meta/100/false"); err != nil || len(st.Metadata) != 0 {
		t.Errorf("Stat after replace without metadata = %v, %v; want no metadata", st.Metadata, err)
	}
	for name, bad := range map[string]map[string]string{
		"upper-case key":  {"Site": "x"},
		"empty key":       {"": "x"},
		"key with =":      {"a=b": "x"},
		"newline value":   {"site": "a\nb"},
		"non-ASCII value": {"site": "乡镇"},
		"too large":       {"big": strings.Repeat("x", 4096)},
	} {
		key := "meta/bad/" + strings.ReplaceAll(name, " ", "-")
		_, err := s.Put(ctx, key, bytes.NewReader([]byte("x")), storage.PutOptions{Metadata: bad})
		if !errors.Is(err, storage.ErrInvalidMetadata) {
			t.Errorf("Put with %s metadata: err = %v, want ErrInvalidMetadata", name, err)
		}
		wantNotFound(t, s, key)
	}
}

// A Lazy put is an ordinary atomic put whose durability is waived: it reads
// back exactly, replaces atomically and honours PutIfAbsent.
func testLazy(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	b := content(7, 9000)
	info, err := s.Put(ctx, "lazy/a", bytes.NewReader(b), storage.PutOptions{ContentType: "application/json", Size: int64(len(b)), Lazy: true})
	if err != nil {
		t.Fatal(err)
	}
	if info.SHA256 != sum(b) || info.Size != int64(len(b)) {
		t.Errorf("lazy Put info = %+v", info)
	}
	wantContent(t, s, "lazy/a", b)
	b2 := content(8, 10)
	put(t, s, "lazy/a", b2, "application/json")
	wantContent(t, s, "lazy/a", b2)
	if _, err := s.PutIfAbsent(ctx, "lazy/a", bytes.NewReader(b), storage.PutOptions{Lazy: true}); !errors.Is(err, storage.ErrExists) {
		t.Errorf("lazy PutIfAbsent on an existing key: err = %v, want ErrExists", err)
	}
	wantContent(t, s, "lazy/a", b2)
}

package j2k

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/huren-health/huren/pixels"
)

// assertTyped fails unless err is one of the errors pixels callers
// dispatch on and carries no recovered panic.
func assertTyped(t testing.TB, err error) {
	t.Helper()
	if strings.Contains(err.Error(), "panic") {
		t.Fatalf("panic in error: %v", err)
	}
	for _, e := range []error{pixels.ErrCorrupt, pixels.ErrTooLarge, pixels.ErrCodecUnavailable} {
		if errors.Is(err, e) {
			return
		}
	}
	t.Fatalf("untyped error: %v", err)
}

func TestCorpusDecodes(t *testing.T) {
	ok := 0
	for _, fr := range corpusFrames(t) {
		f, err := wasmDecode(fr.src, fr.info)
		if err != nil {
			assertTyped(t, err)
			t.Logf("%s: %v", fr.name, err)
			continue
		}
		if len(f.Data) != int(fr.info.FrameBytes()) {
			t.Errorf("%s: %d bytes, want %d", fr.name, len(f.Data), fr.info.FrameBytes())
		}
		ok++
	}
	if ok == 0 {
		t.Fatal("no corpus frame decoded")
	}
}

// TestConcurrent: instances are per decode, so parallel decodes of
// different frames give the same bytes as serial ones.
func TestConcurrent(t *testing.T) {
	var good []corpusFrame
	var want [][]byte
	for _, fr := range corpusFrames(t) {
		if f, err := wasmDecode(fr.src, fr.info); err == nil {
			good = append(good, fr)
			want = append(want, f.Data)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(good))
	for range 4 {
		for i, fr := range good {
			wg.Go(func() {
				f, err := wasmDecode(fr.src, fr.info)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(f.Data, want[i]) {
					errs <- errors.New(fr.name + ": concurrent decode differs")
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func firstGood(t *testing.T, lossless bool) corpusFrame {
	t.Helper()
	for _, fr := range corpusFrames(t) {
		if lossless && fr.info.TransferSyntax != pixels.JPEG2000Lossless {
			continue
		}
		if _, err := wasmDecode(fr.src, fr.info); err == nil {
			return fr
		}
	}
	t.Skip("no decodable JPEG 2000 frame in the corpus")
	return corpusFrame{}
}

// putSIZ rewrites the image size in a raw codestream's SIZ segment
// (SOC, then SIZ: Lsiz Rsiz Xsiz Ysiz XOsiz YOsiz ...).
func putSIZ(t *testing.T, src []byte, w, h uint32) []byte {
	t.Helper()
	i := bytes.Index(src, []byte{0xff, 0x4f, 0xff, 0x51})
	if i < 0 {
		t.Skip("no SOC/SIZ at the codestream start")
	}
	b := append([]byte(nil), src...)
	binary.BigEndian.PutUint32(b[i+8:], w)
	binary.BigEndian.PutUint32(b[i+12:], h)
	// One tile covering the image, so only the image size is huge.
	binary.BigEndian.PutUint32(b[i+24:], w)
	binary.BigEndian.PutUint32(b[i+28:], h)
	return b
}

func allocatedDuring(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestHugeImageRefused: a codestream declaring a huge image is refused
// without the host or the module allocating it, whether the DICOM header
// agrees (over the memory ceiling: refused before instantiating) or not
// (geometry check right after the main header).
func TestHugeImageRefused(t *testing.T) {
	fr := firstGood(t, true)
	huge := putSIZ(t, fr.src, 60000, 60000)
	hugeInfo := fr.info
	hugeInfo.Rows, hugeInfo.Columns = 60000, 60000
	for _, tc := range []struct {
		name string
		info pixels.Info
		want error
	}{
		{"header agrees", hugeInfo, pixels.ErrTooLarge},
		{"header disagrees", fr.info, pixels.ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := allocatedDuring(func() { _, err = wasmDecode(huge, tc.info) })
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			// The module memory (codestream, OpenJPEG's header structures)
			// is a few MiB; the image would be 14 GB.
			if n > 64<<20 {
				t.Errorf("allocated %d MiB refusing a 60000×60000 image", n>>20)
			}
			t.Logf("%v; allocated %d KiB", err, n>>10)
		})
	}
}

// TestMemoryBudget: when the module's memory may not grow as far as the
// frame needs, the decode fails with ErrTooLarge instead of trapping,
// panicking or growing anyway.
func TestMemoryBudget(t *testing.T) {
	// The largest frame: its codestream fits the budget, its planes do not.
	var fr corpusFrame
	for _, c := range corpusFrames(t) {
		if c.info.Rows*c.info.Columns > fr.info.Rows*fr.info.Columns {
			if _, err := wasmDecode(c.src, c.info); err == nil {
				fr = c
			}
		}
	}
	const limit = 4 << 20
	if fr.src == nil || len(fr.src) > limit/2 || fr.info.Rows*fr.info.Columns*4 < 2*limit {
		t.Skip("no corpus frame of the right size")
	}
	saved := memoryBudget
	t.Cleanup(func() { memoryBudget = saved })
	memoryBudget = func(uint64) uint64 { return limit }
	_, err := wasmDecode(fr.src, fr.info)
	if !errors.Is(err, pixels.ErrTooLarge) || strings.Contains(err.Error(), "does not fit") {
		t.Fatalf("%s within %d MiB: %v, want OpenJPEG to fail with ErrTooLarge", fr.name, limit>>20, err)
	}
	t.Logf("%s: %v", fr.name, err)
}

func TestCancelled(t *testing.T) {
	fr := firstGood(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := decodeWasm(ctx, fr.src, fr.info)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	// The time limit: already expired, so deterministic.
	saved := DecodeTimeout
	t.Cleanup(func() { DecodeTimeout = saved })
	DecodeTimeout = -1
	_, err = wasmDecode(fr.src, fr.info)
	if !errors.Is(err, pixels.ErrTooLarge) || !strings.Contains(err.Error(), "time limit") {
		t.Fatalf("expired time limit: %v", err)
	}
}

// TestTrapIsError: a trap inside the module (here an out-of-bounds read
// from a codestream pointer past the end of memory) is an error, and the
// engine keeps working afterwards.
func TestTrapIsError(t *testing.T) {
	e, err := getEngine()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m, err := e.rt.InstantiateModule(ctx, e.mod, wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	_, err = m.ExportedFunction("hl_decode").Call(ctx, 0xfffffff0, 1<<20, 2, 16, 16, 1, 0)
	if err == nil {
		t.Fatal("out-of-bounds codestream: no error")
	}
	cerr := callError(ctx, "decode", err, &budget{})
	if !errors.Is(cerr, pixels.ErrCorrupt) || strings.Contains(cerr.Error(), "\n") {
		t.Fatalf("trap maps to %q", cerr)
	}
	t.Log(cerr)
	fr := firstGood(t, false)
	if _, err := wasmDecode(fr.src, fr.info); err != nil {
		t.Fatalf("after a trap: %v", err)
	}
}

func TestShortAndBadInput(t *testing.T) {
	info := pixels.Info{Rows: 16, Columns: 16, SamplesPerPixel: 1, BitsAllocated: 16, BitsStored: 12, Photometric: "MONOCHROME2"}
	for name, src := range map[string][]byte{
		"empty":   nil,
		"short":   {0xff, 0x4f},
		"garbage": bytes.Repeat([]byte{0xff}, 64),
		"jp2 box": append([]byte{0, 0, 0, 12, 'j', 'P', ' ', ' ', 0x0d, 0x0a, 0x87, 0x0a}, make([]byte, 32)...),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := wasmDecode(src, info)
			if err == nil {
				t.Fatal("decoded garbage")
			}
			assertTyped(t, err)
		})
	}
}

// wasmDecode is the default decoder, called directly so these tests also
// cover it in a -tags huren_openjpeg build, where Decoder is the native one.
func wasmDecode(src []byte, info pixels.Info) (*pixels.Frame, error) {
	return decodeWasm(context.Background(), src, info)
}

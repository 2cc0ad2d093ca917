package j2k

import (
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/huren-health/huren/pixels"
)

// openjp2.wasm is OpenJPEG 2.5.0 (Debian 2.5.0-2+deb12u3) and wasm/glue.c
// compiled by wasm/build.sh; wasm/openjp2.wasm.sha256 is its hash.
//
//go:embed wasm/openjp2.wasm
var openjp2Wasm []byte

const (
	wasmPage = 64 << 10
	// memoryCeiling is the most any one decode may use (module memory
	// holds the codestream, OpenJPEG's 32-bit-per-sample planes and the
	// output). A 16-bit 10k×10k frame needs about 450 MiB.
	memoryCeiling = 1 << 30
	// memorySlack covers OpenJPEG's fixed structures, the 1 MiB stack and
	// code-block buffers on top of the per-sample estimate.
	memorySlack = 32 << 20
)

// DecodeTimeout bounds one decode: a pathological codestream (thousands
// of layers, tiny code-blocks) could otherwise keep a CPU busy for minutes.
// A 2,500×3,000 lossless frame decodes in well under a second.
var DecodeTimeout = 2 * time.Minute

var errTimeout = fmt.Errorf("jpeg 2000: decode exceeded its time limit: %w", pixels.ErrTooLarge)

// engine is the compiled module, shared by every decode. Each decode gets
// its own instance (fresh memory, no state carried over from a previous
// or failed decode), which costs far less than the decode itself.
type engine struct {
	rt  wazero.Runtime
	mod wazero.CompiledModule
}

var (
	engineOnce sync.Once
	theEngine  *engine
	engineErr  error
)

func getEngine() (*engine, error) {
	engineOnce.Do(func() {
		ctx := context.Background()
		cfg := wazero.NewRuntimeConfig().
			WithMemoryLimitPages(memoryCeiling / wasmPage)
		// No WithCloseOnContextDone: it puts an indirect call at every
		// loop header and made decoding 3.3 times slower; the module asks
		// instantiateCheck instead (see wasm/glue.c).
		rt := wazero.NewRuntimeWithConfig(ctx, cfg)
		if err := instantiateWASI(ctx, rt); err != nil {
			engineErr = err
			return
		}
		if err := instantiateCheck(ctx, rt); err != nil {
			engineErr = err
			return
		}
		mod, err := rt.CompileModule(ctx, openjp2Wasm)
		if err != nil {
			engineErr = fmt.Errorf("jpeg 2000: compile openjp2.wasm: %w", err)
			return
		}
		theEngine = &engine{rt: rt, mod: mod}
	})
	if engineErr != nil {
		return nil, fmt.Errorf("%w: %w", engineErr, pixels.ErrCodecUnavailable)
	}
	return theEngine, nil
}

// Prepare compiles the embedded module now instead of on the first decode
// (about 0.2 s of CPU once per process); a server may call it at start-up
// so the first JPEG 2000 render does not pay for it.
func Prepare() error {
	_, err := getEngine()
	return err
}

// instantiateWASI provides the few WASI functions wasi-libc links in
// (environment, stdio, exit) without any real access: the module sees an
// empty environment, writes go nowhere, and exit ends the instance.
func instantiateWASI(ctx context.Context, rt wazero.Runtime) error {
	const ebadf = 8
	i32 := api.ValueTypeI32
	b := rt.NewHostModuleBuilder("wasi_snapshot_preview1")
	fn := func(name string, params []api.ValueType, f api.GoModuleFunc) {
		b.NewFunctionBuilder().WithGoModuleFunction(f, params, []api.ValueType{i32}).Export(name)
	}
	fn("environ_sizes_get", []api.ValueType{i32, i32}, func(_ context.Context, m api.Module, st []uint64) {
		ok := m.Memory().WriteUint32Le(uint32(st[0]), 0) && m.Memory().WriteUint32Le(uint32(st[1]), 0)
		st[0] = 0
		if !ok {
			st[0] = 21 // EFAULT
		}
	})
	fn("environ_get", []api.ValueType{i32, i32}, func(_ context.Context, _ api.Module, st []uint64) { st[0] = 0 })
	fn("fd_close", []api.ValueType{i32}, func(_ context.Context, _ api.Module, st []uint64) { st[0] = ebadf })
	fn("fd_fdstat_get", []api.ValueType{i32, i32}, func(_ context.Context, _ api.Module, st []uint64) { st[0] = ebadf })
	fn("fd_seek", []api.ValueType{i32, api.ValueTypeI64, i32, i32}, func(_ context.Context, _ api.Module, st []uint64) { st[0] = ebadf })
	fn("fd_write", []api.ValueType{i32, i32, i32, i32}, func(_ context.Context, _ api.Module, st []uint64) { st[0] = ebadf })
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, st []uint64) {
		code := uint32(st[0])
		_ = m.CloseWithExitCode(ctx, code)
		// As wazero's own WASI does: unwind the guest; Call returns it as an error.
		panic(sys.NewExitError(code))
	}), []api.ValueType{i32}, nil).Export("proc_exit")
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("jpeg 2000: wasi host module: %w", err)
	}
	return nil
}

// errStopped unwinds the module when the decode's context is done.
var errStopped = errors.New("decode stopped")

// instantiateCheck provides huren.check, which the module calls every
// 1024 function entries: when the call's context is done it unwinds the
// module (wazero recovers the panic and Call returns an error, which
// callError reports as the context's).
func instantiateCheck(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder("huren").NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, _ []uint64) {
			if ctx.Err() != nil {
				panic(errStopped)
			}
		}), nil, nil).Export("check").
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("jpeg 2000: host module: %w", err)
	}
	return nil
}

// budget backs one instance's linear memory and refuses to grow past max,
// so a codestream cannot make OpenJPEG allocate more than its frame
// geometry justifies; malloc then fails inside the module and OpenJPEG
// reports an error instead of the host running out of memory.
type budget struct {
	buf     []byte
	reserve uint64 // capacity to allocate up front: the expected peak
	max     uint64
	refused atomic.Bool
}

// Allocate reserves the expected peak at once: growing page by page would
// zero and copy the memory again at every step (10% of a large decode).
func (b *budget) Allocate(capacity, _ uint64) experimental.LinearMemory {
	b.buf = make([]byte, 0, min(max(capacity, b.reserve), b.max))
	return b
}

func (b *budget) Reallocate(size uint64) []byte {
	if size > b.max {
		b.refused.Store(true)
		return nil
	}
	if size <= uint64(cap(b.buf)) {
		b.buf = b.buf[:size]
		return b.buf
	}
	// Past the estimate: grow by half again so a heap growing page by
	// page does not copy the whole memory each time.
	c := min(max(size, uint64(cap(b.buf))*3/2), b.max)
	nb := make([]byte, size, c)
	copy(nb, b.buf)
	b.buf = nb
	return nb
}

func (b *budget) Free() { b.buf = nil }

// memoryNeed estimates what OpenJPEG needs for a frame: the codestream, a
// 32-bit plane per component (the decoded image; tile buffers move into it
// for a single tile), code-block buffers in proportion to the codestream,
// and an interleaved output copy when there is more than one component.
func memoryNeed(srcLen int, info pixels.Info, bps int) uint64 {
	samples := uint64(info.Rows) * uint64(info.Columns) * uint64(info.SamplesPerPixel)
	need := 3*uint64(srcLen) + 4*samples
	if info.SamplesPerPixel > 1 {
		need += samples * uint64(bps)
	}
	return need
}

// memoryBudget is the most one decode's module memory may grow to. It
// allows twice the estimate: OpenJPEG's peak (code-block scratch,
// multi-tile copies) exceeds it and a legitimate frame must never be
// refused, while a hostile codestream stays bounded. A variable so tests
// can shrink it.
var memoryBudget = func(need uint64) uint64 { return min(2*need+memorySlack, memoryCeiling) }

func decodeWasm(ctx context.Context, src []byte, info pixels.Info) (*pixels.Frame, error) {
	if len(src) < 12 {
		return nil, fmt.Errorf("jpeg 2000: frame of %d bytes: %w", len(src), pixels.ErrCorrupt)
	}
	if info.Rows <= 0 || info.Columns <= 0 || info.SamplesPerPixel <= 0 {
		return nil, fmt.Errorf("jpeg 2000: header geometry %d×%d×%d: %w", info.Columns, info.Rows, info.SamplesPerPixel, pixels.ErrCorrupt)
	}
	bps := info.BitsAllocated / 8
	if info.BitsAllocated == 1 {
		bps = 1
	}
	if bps != 1 && bps != 2 && bps != 4 {
		return nil, fmt.Errorf("jpeg 2000: bits allocated %d: %w", info.BitsAllocated, pixels.ErrCorrupt)
	}
	// Refuse before instantiating anything: the estimate is a lower bound
	// of what OpenJPEG will allocate, so a frame above the ceiling cannot
	// decode anyway.
	need := memoryNeed(len(src), info, bps)
	if need+memorySlack > memoryCeiling {
		return nil, fmt.Errorf("jpeg 2000: %d×%d×%d frame needs about %d MiB, over the decoder's %d MiB: %w",
			info.Columns, info.Rows, info.SamplesPerPixel, need>>20, memoryCeiling>>20, pixels.ErrTooLarge)
	}
	e, err := getEngine()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, DecodeTimeout, errTimeout)
	defer cancel()
	mem := &budget{reserve: need + need/4 + 2<<20, max: memoryBudget(need)}
	ictx := experimental.WithMemoryAllocator(ctx, mem)
	m, err := e.rt.InstantiateModule(ictx, e.mod, wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize"))
	if err != nil {
		return nil, callError(ctx, "instantiate", err, mem)
	}
	defer m.Close(context.Background())
	f, err := runDecode(ictx, m, src, info, bps, need)
	if err != nil {
		if errors.Is(err, errCall) {
			return nil, callError(ctx, "decode", err, mem)
		}
		if mem.refused.Load() && !errors.Is(err, pixels.ErrTooLarge) {
			return nil, fmt.Errorf("%w (memory budget of %d MiB reached: %w)", err, mem.max>>20, pixels.ErrTooLarge)
		}
		return nil, err
	}
	return f, nil
}

// errCall marks a failed call into the module (trap, exit, cancellation)
// as opposed to a decode error the glue reported.
var errCall = errors.New("call failed")

func runDecode(ctx context.Context, m api.Module, src []byte, info pixels.Info, bps int, need uint64) (*pixels.Frame, error) {
	call := func(name string, args ...uint64) (uint64, error) {
		fn := m.ExportedFunction(name)
		if fn == nil {
			return 0, fmt.Errorf("%w: openjp2.wasm lacks %s", errCall, name)
		}
		r, err := fn.Call(ctx, args...)
		if err != nil {
			return 0, fmt.Errorf("%w: %s: %w", errCall, name, err)
		}
		if len(r) == 0 {
			return 0, nil
		}
		return r[0], nil
	}
	mem := m.Memory()
	p, err := call("hl_malloc", uint64(len(src)))
	if err != nil {
		return nil, err
	}
	if p == 0 || !mem.Write(uint32(p), src) {
		return nil, fmt.Errorf("jpeg 2000: %d-byte codestream does not fit the decoder's memory: %w", len(src), pixels.ErrTooLarge)
	}
	res, err := call("hl_result")
	if err != nil {
		return nil, err
	}
	rc, err := call("hl_decode", p, uint64(len(src)), uint64(bps), uint64(info.Columns), uint64(info.Rows), uint64(info.SamplesPerPixel), need)
	if err != nil {
		return nil, err
	}
	// struct hl_result: out u32, out_len u32, prec i32, sgnd i32, err [256]byte
	hdr, ok := mem.Read(uint32(res), 16+256)
	if !ok {
		return nil, fmt.Errorf("%w: result outside memory", errCall)
	}
	if int32(rc) != rcOK {
		msg := hdr[16:]
		if i := strings.IndexByte(string(msg), 0); i >= 0 {
			msg = msg[:i]
		}
		return nil, j2kError(int(int32(rc)), string(msg), info)
	}
	out, outLen := binary.LittleEndian.Uint32(hdr[0:]), binary.LittleEndian.Uint32(hdr[4:])
	f := pixels.NewFrame(info, outPhotometric(info.Photometric))
	if uint64(outLen) != uint64(len(f.Data)) {
		return nil, fmt.Errorf("jpeg 2000: decoder wrote %d bytes for a %d-byte frame: %w", outLen, len(f.Data), pixels.ErrCorrupt)
	}
	samples, ok := mem.Read(out, outLen)
	if !ok {
		return nil, fmt.Errorf("%w: output outside memory", errCall)
	}
	copy(f.Data, samples)
	return f, nil
}

// callError turns a trap, an exit or a cancellation into a typed error.
// Only the first line of wazero's message is kept (the rest is a stack
// trace of the module).
func callError(ctx context.Context, what string, err error, mem *budget) error {
	if ctx.Err() != nil {
		if c := context.Cause(ctx); errors.Is(c, errTimeout) {
			return c
		}
		return fmt.Errorf("jpeg 2000: %s: %w", what, ctx.Err())
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	if mem.refused.Load() {
		return fmt.Errorf("jpeg 2000: %s: %s (memory budget of %d MiB reached): %w", what, msg, mem.max>>20, pixels.ErrTooLarge)
	}
	return fmt.Errorf("jpeg 2000: openjpeg %s trapped: %s: %w", what, msg, pixels.ErrCorrupt)
}

package fs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/huren-health/huren/storage"
)

// Helper process entry points, driven by env; they do nothing in a normal run.
func TestHelperProcess(t *testing.T) {
	root := os.Getenv("HUREN_FS_HELPER_ROOT")
	if root == "" {
		return // only meaningful as a helper process
	}
	s, err := New(Config{Root: root}, nil)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	ctx := context.Background()
	switch os.Getenv("HUREN_FS_HELPER_MODE") {
	case "put-if-absent":
		// Wait for the parent's start signal so all processes race.
		for {
			if _, err := os.Stat(filepath.Join(root, "go")); err == nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
		id := os.Getenv("HUREN_FS_HELPER_ID")
		_, err := s.PutIfAbsent(ctx, "race/key", strings.NewReader(strings.Repeat(id, 300<<10)), storage.PutOptions{})
		switch {
		case err == nil:
			fmt.Println("won", id)
		case errors.Is(err, storage.ErrExists):
			fmt.Println("exists", id)
		default:
			fmt.Println("error", err)
		}
		os.Exit(0)
	case "die-mid-write":
		pr, pw := io.Pipe()
		go func() {
			pw.Write(bytes.Repeat([]byte("x"), 1<<20))
			fmt.Println("writing") // the parent kills us now
			select {}
		}()
		switch os.Getenv("HUREN_FS_HELPER_ID") {
		case "absent":
			s.PutIfAbsent(ctx, "crash/key", pr, storage.PutOptions{})
		case "named": // the fallback without O_TMPFILE
			s.anon = false
			s.Put(ctx, "crash/key", pr, storage.PutOptions{})
		default:
			s.Put(ctx, "crash/key", pr, storage.PutOptions{})
		}
		os.Exit(3)
	}
}

func helper(t *testing.T, root, mode, id string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "HUREN_FS_HELPER_ROOT="+root, "HUREN_FS_HELPER_MODE="+mode, "HUREN_FS_HELPER_ID="+id)
	return cmd
}

// PutIfAbsent is atomic across processes: link(2) lets exactly one win.
func TestPutIfAbsentAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for round := range 3 {
		root := t.TempDir()
		const n = 6
		outs := make([]*bytes.Buffer, n)
		cmds := make([]*exec.Cmd, n)
		for i := range n {
			outs[i] = new(bytes.Buffer)
			cmds[i] = helper(t, root, "put-if-absent", string(rune('a'+i)))
			cmds[i].Stdout = outs[i]
			cmds[i].Stderr = os.Stderr
			if err := cmds[i].Start(); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(200 * time.Millisecond) // let them all reach the barrier
		if err := os.WriteFile(filepath.Join(root, "go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		winner := ""
		for i, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Fatalf("helper %d: %v: %s", i, err, outs[i])
			}
			out := outs[i].String()
			switch {
			case strings.Contains(out, "won"):
				if winner != "" {
					t.Fatalf("round %d: two winners: %s and %s", round, winner, out)
				}
				winner = string(rune('a' + i))
			case strings.Contains(out, "exists"):
			default:
				t.Fatalf("round %d: helper %d said %q", round, i, out)
			}
		}
		if winner == "" {
			t.Fatalf("round %d: no winner", round)
		}
		s, err := New(Config{Root: root}, nil)
		if err != nil {
			t.Fatal(err)
		}
		rc, _, err := s.Get(t.Context(), "race/key")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != strings.Repeat(winner, 300<<10) {
			t.Fatalf("round %d: content is not the winner's", round)
		}
	}
}

// killMidWrite runs a helper process that starts a write (mode: "named"
// Put on the named-temp fallback, "put" or "absent" on anonymous files) and
// kills it once the first megabyte has gone out.
func killMidWrite(t *testing.T, root, mode string) {
	t.Helper()
	cmd := helper(t, root, "die-mid-write", mode)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf) // "writing"
	if !strings.Contains(string(buf[:n]), "writing") {
		t.Fatalf("helper said %q", buf[:n])
	}
	// Give the writer a moment to flush the first chunk to its file.
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Kill()
	cmd.Wait()
}

// A writer killed mid-write leaves only a temp file, invisible to readers,
// and the next New removes it once its lock is gone.
func TestCrashMidWriteIsSwept(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	root := t.TempDir()
	killMidWrite(t, root, "named")

	temps, _ := filepath.Glob(filepath.Join(root, "tmp", "put-*"))
	if len(temps) != 1 {
		t.Fatalf("temp files after crash: %v, want 1", temps)
	}
	s, err := New(Config{Root: root}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), "crash/key"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat after crash = %v, want ErrNotFound", err)
	}
	// Too young to sweep: the window between create and flock is protected.
	if _, err := os.Stat(temps[0]); err != nil {
		t.Fatalf("young temp file swept: %v", err)
	}
	old := time.Now().Add(-2 * staleAfter)
	os.Chtimes(temps[0], old, old)
	if _, err := New(Config{Root: root}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(temps[0]); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temp file not swept: %v", err)
	}
}

// Put and PutIfAbsent write anonymous files: a writer killed mid-write
// leaves nothing at all — no object, no temp file to sweep.
func TestCrashMidWriteLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	for _, mode := range []string{"absent", "put"} {
		t.Run(mode, func(t *testing.T) {
			root := t.TempDir()
			killMidWrite(t, root, mode)
			s, err := New(Config{Root: root}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Stat(t.Context(), "crash/key"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("Stat after crash = %v, want ErrNotFound", err)
			}
			if left, _ := filepath.Glob(filepath.Join(root, "tmp", "*")); len(left) != 0 {
				t.Fatalf("tmp/ after a crashed write holds %v", left)
			}
		})
	}
}

// A temp file whose writer is alive (lock held) is never swept, however old.
func TestSweepKeepsLockedTemp(t *testing.T) {
	root := t.TempDir()
	if _, err := New(Config{Root: root}, nil); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "tmp", "put-live")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := lock(f); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(p, old, old)
	if _, err := New(Config{Root: root}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("live temp file swept: %v", err)
	}
}

// The file is the header followed by the content byte for byte.
func TestOnDiskFormat(t *testing.T) {
	root := t.TempDir()
	s, err := New(Config{Root: root}, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("DICM-ish content")
	if _, err := s.Put(t.Context(), "a/b.dcm", bytes.NewReader(body), storage.PutOptions{ContentType: "application/dicom"}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "objects", "a", "b.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	h, off, err := readHeader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if off != headerLen("application/dicom", "") || !bytes.Equal(raw[off:], body) || h.contentType != "application/dicom" || h.size != int64(len(body)) {
		t.Fatalf("file = header(%d, %+v) + %q", off, h, raw[off:])
	}
}

// Damaged files are reported as errors (never as content, never a panic).
func TestCorruptObjects(t *testing.T) {
	root := t.TempDir()
	s, err := New(Config{Root: root}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	body := bytes.Repeat([]byte("z"), 1000)
	if _, err := s.Put(ctx, "ok", bytes.NewReader(body), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(filepath.Join(root, "objects", "ok"))
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 0xff; return b }
	// A version 2 header (with user metadata), and forged ones whose CRC is
	// right but whose metadata section is malformed.
	if _, err := s.Put(ctx, "okmeta", bytes.NewReader(body), storage.PutOptions{Metadata: map[string]string{"site": "town-a"}}); err != nil {
		t.Fatal(err)
	}
	goodMeta, _ := os.ReadFile(filepath.Join(root, "objects", "okmeta"))
	if string(goodMeta[:8]) != magic2 {
		t.Fatalf("object with metadata has magic %q, want %q", goodMeta[:8], magic2)
	}
	forge := func(meta string) []byte {
		h := header{size: int64(len(body)), contentType: "application/octet-stream"}
		b := h.marshal()
		n := len(b) + 2 + len(meta)
		out := make([]byte, 0, n+len(body))
		out = append(out, magic2...)
		out = binary.BigEndian.AppendUint32(out, uint32(n))
		out = append(out, b[12:len(b)-4]...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(meta)))
		out = append(out, meta...)
		out = binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
		return append(out, body...)
	}
	cases := map[string][]byte{
		"garbage":   []byte("not an object at all, just some bytes written by hand"),
		"magic":     flip(0),
		"size":      flip(15),
		"sha":       flip(30),
		"crc":       flip(int(headerLen("application/octet-stream", "")) - 1),
		"extended":  append(bytes.Clone(good), 'x'),
		"meta-flip": func() []byte { b := bytes.Clone(goodMeta); b[len(goodMeta)-len(body)-6] ^= 0x01; return b }(),
		"meta-nonl": forge("site=town-a"),
		"meta-noeq": forge("site\n"),
		"meta-zero": forge(""),
	}
	for name, data := range cases {
		if err := os.WriteFile(filepath.Join(root, "objects", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, name); err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Stat(%s) = %v, want a corruption error", name, err)
		}
		if _, _, err := s.Get(ctx, name); err == nil {
			t.Errorf("Get(%s) succeeded on a damaged file", name)
		}
	}
	if err := s.List(ctx, "", func(storage.Info) error { return nil }); err == nil {
		t.Error("List over damaged files succeeded silently")
	}
	// The forging helper itself is right: well-formed metadata reads back.
	if err := os.WriteFile(filepath.Join(root, "objects", "forged-ok"), forge("a=1\nb=\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Stat(ctx, "forged-ok"); err != nil || st.Metadata["a"] != "1" || len(st.Metadata) != 2 {
		t.Errorf("Stat(forged-ok) = %+v, %v; want metadata a=1 b=", st, err)
	}
}

// A torn object — a name whose content did not reach the disk because the
// process or machine died between PutIfAbsent's link and its fsync — was
// never acknowledged: reads see no object, List skips it, and PutIfAbsent
// replaces it, on both commit paths. Concurrent replacers: exactly one wins.
func TestTornObjects(t *testing.T) {
	for _, anon := range []bool{true, false} {
		t.Run(fmt.Sprintf("anon=%v", anon), func(t *testing.T) {
			root := t.TempDir()
			s, err := New(Config{Root: root}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if anon && !s.anon {
				t.Skip("no O_TMPFILE on this filesystem")
			}
			s.anon = anon
			ctx := t.Context()
			body := bytes.Repeat([]byte("q"), 10000)
			if _, err := s.Put(ctx, "d/whole", bytes.NewReader(body), storage.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			whole, _ := os.ReadFile(filepath.Join(root, "objects", "d", "whole"))
			torn := map[string][]byte{"d/empty": {}, "d/short": whole[:4096]}
			for k, b := range torn {
				if err := os.WriteFile(filepath.Join(root, "objects", filepath.FromSlash(k)), b, 0o644); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Stat(ctx, k); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("Stat(%s) = %v, want ErrNotFound", k, err)
				}
				if _, _, err := s.Get(ctx, k); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("Get(%s) = %v, want ErrNotFound", k, err)
				}
			}
			var listed []string
			if err := s.List(ctx, "d/", func(i storage.Info) error { listed = append(listed, i.Key); return nil }); err != nil || len(listed) != 1 || listed[0] != "d/whole" {
				t.Fatalf("List = %v, %v; want only d/whole", listed, err)
			}
			for k := range torn {
				const n = 5
				errs := make(chan error, n)
				for i := range n {
					go func() {
						_, err := s.PutIfAbsent(ctx, k, bytes.NewReader(bytes.Repeat([]byte{byte('a' + i)}, 5000)), storage.PutOptions{})
						errs <- err
					}()
				}
				won := 0
				for range n {
					switch err := <-errs; {
					case err == nil:
						won++
					case errors.Is(err, storage.ErrExists):
					default:
						t.Fatalf("PutIfAbsent over torn %s: %v", k, err)
					}
				}
				if won != 1 {
					t.Fatalf("%d writers replaced torn %s, want exactly 1", won, k)
				}
				rc, info, err := s.Get(ctx, k)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(rc)
				rc.Close()
				if len(got) != 5000 || !bytes.Equal(got, bytes.Repeat(got[:1], 5000)) || info.Size != 5000 {
					t.Fatalf("%s after replace: %d bytes %q…", k, len(got), got[:min(len(got), 8)])
				}
			}
			// What is left in tmp/ is nothing: the temporary names are gone.
			if left, _ := filepath.Glob(filepath.Join(root, "tmp", "*")); len(left) != 0 {
				t.Errorf("tmp/ holds %v", left)
			}
		})
	}
}

// A key cannot be both an object and a directory on a filesystem.
func TestKeyConflict(t *testing.T) {
	s, err := New(Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := s.Put(ctx, "a", strings.NewReader("1"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "a/b", strings.NewReader("2"), storage.PutOptions{}); !errors.Is(err, ErrKeyConflict) {
		t.Errorf("Put(a/b) over object a = %v, want ErrKeyConflict", err)
	}
	if _, err := s.Put(ctx, "c/d", strings.NewReader("3"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []func() error{
		func() error { _, err := s.Put(ctx, "c", strings.NewReader("4"), storage.PutOptions{}); return err },
		func() error {
			_, err := s.PutIfAbsent(ctx, "c", strings.NewReader("4"), storage.PutOptions{})
			return err
		},
	} {
		if err := f(); !errors.Is(err, ErrKeyConflict) {
			t.Errorf("Put(c) over directory c = %v, want ErrKeyConflict", err)
		}
	}
	if temps, _ := filepath.Glob(filepath.Join(s.tmpDir, "*")); len(temps) != 0 {
		t.Errorf("temp files left: %v", temps)
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := New(Config{}, nil); err == nil {
		t.Error("New with empty root succeeded")
	}
	if _, err := New(Config{Root: "  "}, nil); err == nil {
		t.Error("New with blank root succeeded")
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := New(Config{Root: f}, nil); err == nil {
		t.Error("New with a file as root succeeded")
	}
}

// Long content types are refused, not truncated.
func TestContentTypeTooLong(t *testing.T) {
	s, err := New(Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(t.Context(), "x", strings.NewReader("1"), storage.PutOptions{ContentType: strings.Repeat("a", 2000)})
	if !errors.Is(err, ErrContentType) {
		t.Errorf("Put with a 2000-byte content type = %v, want ErrContentType", err)
	}
}

// FuzzReadHeader: any bytes give a header that re-encodes to the same bytes,
// or an error — never a panic or a huge allocation.
func FuzzReadHeader(f *testing.F) {
	for _, h := range []header{
		{size: 3, contentType: "application/dicom"},
		{size: 0, contentType: "x", meta: map[string]string{"site": "town-a", "via": "stow"}},
	} {
		f.Add(append(h.marshal(), "abc"...))
	}
	f.Add([]byte(magic2 + "\x00\x00\x00\x40"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := readHeader(bytes.NewReader(b))
		if err != nil {
			return
		}
		if n > int64(len(b)) {
			t.Fatalf("header length %d beyond %d input bytes", n, len(b))
		}
		if again := h.marshal(); !bytes.Equal(again, b[:n]) {
			t.Fatalf("header does not re-encode to its bytes:\n%q\n%q", b[:n], again)
		}
	})
}

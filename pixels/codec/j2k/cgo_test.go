//go:build cgo && huren_openjpeg

package j2k

import (
	"bytes"
	"context"
	"testing"
)

func init() {
	benchDecoders = append(benchDecoders, benchDecoders[0])
	benchDecoders[1].name = "openjpeg_cgo"
	benchDecoders[1].decode = decodeOpenJPEG
}

// TestDifferential: the wasm build and the native OpenJPEG agree on every
// corpus frame: the same samples when both decode, an error from both
// otherwise.
func TestDifferential(t *testing.T) {
	for _, fr := range corpusFrames(t) {
		w, werr := decodeWasm(context.Background(), fr.src, fr.info)
		n, nerr := decodeOpenJPEG(fr.src, fr.info)
		switch {
		case (werr == nil) != (nerr == nil):
			t.Errorf("%s: wasm err %v, native err %v", fr.name, werr, nerr)
		case werr != nil:
			t.Logf("%s: both fail: wasm %v; native %v", fr.name, werr, nerr)
		case !bytes.Equal(w.Data, n.Data) || w.Photometric != n.Photometric || w.Signed != n.Signed || w.BitsAllocated != n.BitsAllocated:
			t.Errorf("%s: wasm and native decodes differ", fr.name)
		default:
			t.Logf("%s: identical (%d bytes)", fr.name, len(w.Data))
		}
	}
}

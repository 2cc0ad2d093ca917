package j2k

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// TestArtifactHash: the embedded module is the one wasm/openjp2.wasm.sha256
// names (wasm/build.sh --check proves that hash is what the pinned source
// and toolchain build; this cheap test catches a module replaced without
// its hash file in any build).
func TestArtifactHash(t *testing.T) {
	b, err := os.ReadFile("wasm/openjp2.wasm.sha256")
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	sum := sha256.Sum256(openjp2Wasm)
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("embedded openjp2.wasm sha256 %s, openjp2.wasm.sha256 says %s", got, want)
	}
}

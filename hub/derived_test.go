package hub

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	catredis "github.com/huren-health/huren/catalog/redis"
)

func readyStatus(t *testing.T, base string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

func countJSON(t *testing.T, url, token string) int {
	t.Helper()
	v, _ := getJSON(t, url, token, http.StatusOK).([]any)
	return len(v)
}

func stowCT(t *testing.T, base, token, study, series string, num int) {
	t.Helper()
	resp := do(t, "POST", base+"/dicom-web/studies", token, "application/dicom", bytes.NewReader(syntheticCT(study, series, num)))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("STOW %s #%d: %d", series, num, resp.StatusCode)
	}
}

// TestFlushedRedisIsDetectedAndRebuilt: after FLUSHALL the hub does not
// answer ready with an empty archive: /readyz says why it is not ready,
// and the derived state comes back from object storage.
func TestFlushedRedisIsDetectedAndRebuilt(t *testing.T) {
	addr := startRedis(t)
	cfg := embeddedConfig(t)
	cfg.Redis = "redis://" + addr + "/0"
	base, srv, stop := startHub(t, cfg)
	defer stop()
	waitFor(t, "first readiness", func() bool { code, _ := readyStatus(t, base); return code == http.StatusOK })
	token := deviceToken(t, srv)
	const study = "2.25.99014009.1"
	stowCT(t, base, token, study, study+".1", 1)
	if n := countJSON(t, base+"/dicom-web/studies", token); n != 1 {
		t.Fatalf("%d studies before the flush", n)
	}

	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	defer rdb.Close()
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	code, body := readyStatus(t, base)
	if code != http.StatusServiceUnavailable || !bytes.Contains([]byte(body), []byte("generation marker")) {
		t.Fatalf("readyz after FLUSHALL: %d %s", code, body)
	}
	waitFor(t, "the study to come back", func() bool { return countJSON(t, base+"/dicom-web/studies", token) == 1 })
	waitFor(t, "readiness after the rebuild", func() bool { code, _ := readyStatus(t, base); return code == http.StatusOK })
}

// TestRestartReconcilesUnindexedInstances: an instance whose original was
// stored but whose catalog write was lost (a crash between them) is indexed
// at the next start, not only by a manual reindex.
func TestRestartReconcilesUnindexedInstances(t *testing.T) {
	addr := startRedis(t)
	cfg := embeddedConfig(t)
	cfg.Redis = "redis://" + addr + "/0"
	base, srv, stop := startHub(t, cfg)
	waitFor(t, "first readiness", func() bool { code, _ := readyStatus(t, base); return code == http.StatusOK })
	token := deviceToken(t, srv)
	const study = "2.25.99014009.2"
	stowCT(t, base, token, study, study+".1", 1)
	stowCT(t, base, token, study, study+".1", 2)
	stop()

	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	defer rdb.Close()
	cat := catredis.New(rdb, RedisPrefix+"cat:", nil)
	if err := cat.Delete(context.Background(), study+".1.2"); err != nil {
		t.Fatal(err)
	}

	base, _, stop = startHub(t, cfg)
	defer stop()
	url := base + "/dicom-web/studies/" + study + "/instances"
	waitFor(t, "the unindexed instance to be reconciled", func() bool { return countJSON(t, url, token) == 2 })
}

package ohif

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Environment of TestOHIFOpensStudy; scripts/ohif-smoke sets all of them.
const (
	envURL      = "HUREN_OHIF_URL"      // served OHIF viewer, e.g. http://127.0.0.1:41234 (required)
	envStudy    = "HUREN_OHIF_STUDY"    // StudyInstanceUID uploaded to the hub (required)
	envExpect   = "HUREN_OHIF_EXPECT"   // |-separated texts the study list must show (patient name, instance count)
	envDICOMweb = "HUREN_OHIF_DICOMWEB" // hub DICOMweb root; requests under it are the ones that must not fail
	envScreens  = "HUREN_OHIF_SCREENS"  // directory for screenshots (default: a temp dir, logged)
	envChromium = "HUREN_CHROMIUM"      // browser binary (default /usr/bin/chromium)
	envTimeout  = "HUREN_OHIF_TIMEOUT"  // overall budget, Go duration (default 3m)
)

// netLog records what the page asked of the network, from DevTools events.
// Listen calls record on the tab's reader goroutine; the test reads after.
type netLog struct {
	mu       sync.Mutex
	reqs     map[network.RequestID]*request
	order    []network.RequestID
	console  []string
	dicomweb string
}

type request struct {
	Method, URL, Accept string
	Status              int64
	ContentType         string
	Failed              string // loadingFailed errorText (empty when it loaded)
	Canceled            bool
	CORS                string
}

func (l *netLog) get(id network.RequestID) *request {
	r, ok := l.reqs[id]
	if !ok {
		r = &request{}
		l.reqs[id] = r
		l.order = append(l.order, id)
	}
	return r
}

func (l *netLog) record(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		r := l.get(ev.RequestID)
		r.Method, r.URL = ev.Request.Method, ev.Request.URL
		if a, ok := ev.Request.Headers["Accept"].(string); ok {
			r.Accept = a
		}
	case *network.EventResponseReceived:
		r := l.get(ev.RequestID)
		if r.URL == "" {
			r.URL = ev.Response.URL
		}
		r.Status = ev.Response.Status
		r.ContentType = ev.Response.MimeType
	case *network.EventLoadingFailed:
		r := l.get(ev.RequestID)
		r.Failed, r.Canceled = ev.ErrorText, ev.Canceled
		if ev.CorsErrorStatus != nil {
			r.CORS = string(ev.CorsErrorStatus.CorsError) + " " + ev.CorsErrorStatus.FailedParameter
		}
	}
}

func (l *netLog) isDICOMweb(u string) bool {
	if l.dicomweb != "" {
		return strings.HasPrefix(u, l.dicomweb)
	}
	return strings.Contains(u, "/dicom-web/")
}

// summary returns the DICOMweb requests by kind and those that failed.
func (l *netLog) summary() (kinds map[string]int, failed []request, others []request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	kinds = map[string]int{}
	for _, id := range l.order {
		r := *l.reqs[id]
		dw := l.isDICOMweb(r.URL)
		bad := r.Status >= 400 || (r.Failed != "" && !r.Canceled)
		if dw {
			kinds[requestKind(r.URL, r.Method)]++
			if bad {
				failed = append(failed, r)
			}
		} else if bad {
			others = append(others, r)
		}
	}
	return kinds, failed, others
}

func requestKind(raw, method string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "unparsable"
	}
	p := u.Path
	switch {
	case method == "OPTIONS":
		return "preflight"
	case strings.Contains(p, "/frames/"):
		return "frames"
	case strings.HasSuffix(p, "/metadata"):
		return "metadata"
	case strings.HasSuffix(p, "/rendered") || strings.HasSuffix(p, "/thumbnail"):
		return "rendered"
	case strings.HasSuffix(p, "/series"), strings.HasSuffix(p, "/studies"), strings.HasSuffix(p, "/instances"):
		return "qido"
	default:
		return "other"
	}
}

// canvasProbe measures the cornerstone viewport canvases. OHIF renders with
// WebGL off-screen and copies each viewport into a 2D canvas
// (canvas.cornerstone-canvas), so getImageData reads what the user sees.
const canvasProbe = `(() => {
  const out = [];
  let list = document.querySelectorAll('canvas.cornerstone-canvas');
  if (list.length === 0) list = document.querySelectorAll('.cornerstone-viewport-element canvas, [data-viewport-uid] canvas');
  for (const c of list) {
    const r = {w: c.width, h: c.height, lit: 0, levels: 0, err: ''};
    try {
      const ctx = c.getContext('2d', {willReadFrequently: true});
      if (!ctx || c.width === 0 || c.height === 0) { r.err = 'no 2d context'; out.push(r); continue; }
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length; i += 4) {
        const v = d[i] | (d[i+1] << 8) | (d[i+2] << 16);
        if (v !== 0) r.lit++;
        if (seen.size < 4096) seen.add(v);
      }
      r.levels = seen.size;
    } catch (e) { r.err = String(e); }
    out.push(r);
  }
  return out;
})()`

type canvasStat struct {
	W      int    `json:"w"`
	H      int    `json:"h"`
	Lit    int    `json:"lit"`
	Levels int    `json:"levels"`
	Err    string `json:"err"`
}

// rendered reports whether a viewport canvas shows an image rather than a
// blank or uniform one: at least 2% of its pixels lit and 32 distinct
// colours (a CT/MR slice has hundreds of grey levels; text overlays live in
// the DOM, not in this canvas). Canvases under minViewportSide on a side are
// series thumbnails (256×256 in OHIF 3.13), which render first and would
// otherwise pass for the viewport.
func rendered(stats []canvasStat) bool {
	for _, s := range stats {
		if s.W >= minViewportSide && s.H >= minViewportSide && s.Lit*50 >= s.W*s.H && s.Levels >= 32 {
			return true
		}
	}
	return false
}

// minViewportSide is the smallest canvas side taken for a viewport; the
// test's 1440×900 window gives OHIF's single viewport about 1100×700.
const minViewportSide = 300

// displaySetProbe lists OHIF's display sets with their warning codes (the
// triangle on a thumbnail): a metadata shape OHIF dislikes shows up here.
const displaySetProbe = `(() => {
  const svc = window.services && window.services.displaySetService;
  if (!svc) return [];
  return svc.getActiveDisplaySets().map(d => ({
    series: d.SeriesInstanceUID || '', modality: d.Modality || '',
    images: (d.images || d.instances || []).length,
    reconstructable: !!d.isReconstructable,
    messages: ((d.messages && d.messages.messages) || []).map(m => m.id),
  }));
})()`

type displaySet struct {
	Series          string `json:"series"`
	Modality        string `json:"modality"`
	Images          int    `json:"images"`
	Reconstructable bool   `json:"reconstructable"`
	Messages        []int  `json:"messages"`
}

// displaySetMessages names OHIF 3.13's DisplaySetMessage.CODES.
var displaySetMessages = map[int]string{
	1: "NO_VALID_INSTANCES", 2: "NO_POSITION_INFORMATION", 3: "NOT_RECONSTRUCTABLE",
	4: "MULTIFRAME_NO_PIXEL_MEASUREMENTS", 5: "MULTIFRAME_NO_ORIENTATION",
	6: "MULTIFRAME_NO_POSITION_INFORMATION", 7: "MISSING_FRAMES", 8: "IRREGULAR_SPACING",
	9: "INCONSISTENT_DIMENSIONS", 10: "INCONSISTENT_COMPONENTS", 11: "INCONSISTENT_ORIENTATIONS",
	12: "INCONSISTENT_POSITION_INFORMATION", 13: "UNSUPPORTED_DISPLAYSET",
	14: "UNSUPPORTED_SOP_CLASS_UID", 15: "MISSING_SOP_CLASS_UID",
}

// skipTour closes OHIF's first-visit tour ("Skip all") if it is shown, so
// the screenshot shows the image rather than a popup over it.
const skipTour = `(() => { const b = [...document.querySelectorAll('button')].find(b => b.innerText.trim() === 'Skip all'); if (b) { b.click(); return true; } return false; })()`

func TestOHIFOpensStudy(t *testing.T) {
	base, study := os.Getenv(envURL), os.Getenv(envStudy)
	if base == "" || study == "" {
		// scripts/test runs it after the go test step, through
		// scripts/ohif-smoke, which serves OHIF and uploads a study.
		t.Skipf("browser smoke test: set %s (served OHIF viewer) and %s (an uploaded StudyInstanceUID); scripts/ohif-smoke does", envURL, envStudy)
	}
	base = strings.TrimRight(base, "/")
	chromium := os.Getenv(envChromium)
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("chromium: %v (install Debian's chromium or set %s)", err, envChromium)
	}
	budget := 3 * time.Minute
	if v := os.Getenv(envTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s: %v", envTimeout, err)
		}
		budget = d
	}
	screens := os.Getenv(envScreens)
	if screens == "" {
		screens = t.TempDir()
	}
	if err := os.MkdirAll(screens, 0o755); err != nil {
		t.Fatal(err)
	}

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancel()

	nl := &netLog{reqs: map[network.RequestID]*request{}, dicomweb: strings.TrimRight(os.Getenv(envDICOMweb), "/")}
	if err := chromedp.Listen(ctx, nl.record); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	consoleCtx, stopConsole := context.WithCancel(ctx)
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for m, err := range chromedp.Console(consoleCtx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				nl.mu.Lock()
				nl.console = append(nl.console, m.String())
				nl.mu.Unlock()
			}
		}
	}()
	// The first Run (Listen above) owns the browser; a timeout goes on a child.
	runCtx, cancelRun := context.WithTimeout(ctx, budget)
	defer cancelRun()

	defer func() {
		stopConsole()
		<-consoleDone
		kinds, failed, others := nl.summary()
		t.Logf("DICOMweb requests by kind: %v", kinds)
		for _, r := range failed {
			t.Errorf("DICOMweb request failed: %s %s → status %d %s%s (Accept: %s)", r.Method, r.URL, r.Status, r.Failed, r.CORS, r.Accept)
		}
		for _, r := range others {
			t.Logf("non-DICOMweb request failed (not fatal): %s %s → %d %s", r.Method, r.URL, r.Status, r.Failed)
		}
		nl.mu.Lock()
		for _, c := range nl.console {
			t.Logf("browser console: %s", clip(c, 400))
		}
		nl.mu.Unlock()
	}()

	// 1. Study list: the uploaded study is listed.
	start := time.Now()
	if err := chromedp.Do(runCtx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatalf("open study list: %v", err)
	}
	expect := []string{}
	for _, s := range strings.Split(os.Getenv(envExpect), "|") {
		if s = strings.TrimSpace(s); s != "" {
			expect = append(expect, s)
		}
	}
	if len(expect) == 0 {
		t.Fatalf("%s is empty: the study list check needs the patient name (as OHIF shows it, \"Family, Given\") or the instance count", envExpect)
	}
	// innerText leaves out the filter inputs' values, so a match is a row.
	waitList := `(() => { const t = document.body ? document.body.innerText : ''; const want = %s;
	  return want.every(w => t.includes(w)); })()`
	want, _ := json.Marshal(expect)
	if _, err := chromedp.Run(runCtx, chromedp.Poll[bool](fmt.Sprintf(waitList, want), chromedp.WithPollingInterval(250*time.Millisecond), chromedp.WithPollingTimeout(budget/3))); err != nil {
		text, _ := chromedp.Run(runCtx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
		saveShot(t, runCtx, screens, "ohif-studylist-FAILED.png")
		t.Fatalf("study list never showed a study row with %q: %v\npage text:\n%s", expect, err, clip(text, 2000))
	}
	t.Logf("study list shows %q after %v", expect, time.Since(start).Round(time.Millisecond))
	saveShot(t, runCtx, screens, "ohif-studylist.png")

	// 2. Viewer: the viewport canvas shows pixels.
	start = time.Now()
	viewer := base + "/viewer?StudyInstanceUIDs=" + url.QueryEscape(study)
	if err := chromedp.Do(runCtx, chromedp.Navigate(viewer)); err != nil {
		t.Fatalf("open viewer: %v", err)
	}
	var last []canvasStat
	deadline := time.Now().Add(budget / 2)
	for {
		stats, err := chromedp.Run(runCtx, chromedp.Evaluate[[]canvasStat](canvasProbe))
		if err != nil {
			t.Fatalf("probe viewport canvas: %v", err)
		}
		last = stats
		if rendered(stats) {
			break
		}
		if time.Now().After(deadline) {
			text, _ := chromedp.Run(runCtx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
			saveShot(t, runCtx, screens, "ohif-viewer-FAILED.png")
			t.Fatalf("viewport never showed an image; canvases %+v\npage text:\n%s", stats, clip(text, 2000))
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("first image in the viewport after %v; canvases %+v", time.Since(start).Round(time.Millisecond), last)
	// Let the remaining frames of the series and the thumbnails arrive, so
	// the screenshot shows the settled viewer and failures of later frame
	// requests are seen: wait until no DICOMweb request is pending for 1 s.
	waitIdle(runCtx, nl, budget/4)
	t.Logf("viewer settled after %v", time.Since(start).Round(time.Millisecond))
	if sets, err := chromedp.Run(runCtx, chromedp.Evaluate[[]displaySet](displaySetProbe)); err != nil {
		t.Errorf("read OHIF display sets: %v", err)
	} else {
		for _, d := range sets {
			names := make([]string, len(d.Messages))
			for i, m := range d.Messages {
				names[i] = displaySetMessages[m]
			}
			t.Logf("display set %s %s: %d images, reconstructable=%v, warnings %v", d.Modality, d.Series, d.Images, d.Reconstructable, names)
		}
	}
	if closed, err := chromedp.Run(runCtx, chromedp.Evaluate[bool](skipTour)); err == nil && closed {
		time.Sleep(300 * time.Millisecond) // the popup fades out
	}
	if stats, err := chromedp.Run(runCtx, chromedp.Evaluate[[]canvasStat](canvasProbe)); err == nil {
		if !rendered(stats) {
			t.Errorf("viewport blank after the series loaded; canvases %+v", stats)
		}
		last = stats
	}
	t.Logf("final canvases %+v", last)
	shot := saveShot(t, runCtx, screens, "ohif-viewer.png")
	if shot != nil {
		if n := distinctColours(t, shot, 4096); n < 32 {
			t.Errorf("viewer screenshot has only %d distinct colours: looks blank", n)
		}
	}
}

// waitIdle waits until every DICOMweb request seen so far has an answer or a
// failure and none started in the last second, or until d passes.
func waitIdle(ctx context.Context, nl *netLog, d time.Duration) {
	end := time.Now().Add(d)
	lastCount, stable := -1, time.Now()
	for time.Now().Before(end) && ctx.Err() == nil {
		nl.mu.Lock()
		pending := 0
		for _, r := range nl.reqs {
			if nl.isDICOMweb(r.URL) && r.Status == 0 && r.Failed == "" {
				pending++
			}
		}
		n := len(nl.order)
		nl.mu.Unlock()
		if n != lastCount || pending > 0 {
			lastCount, stable = n, time.Now()
		} else if time.Since(stable) > time.Second {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func saveShot(t *testing.T, ctx context.Context, dir, name string) []byte {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return nil
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Errorf("save screenshot: %v", err)
		return nil
	}
	t.Logf("screenshot: %s", p)
	return buf
}

func distinctColours(t *testing.T, pngData []byte, limit int) int {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		t.Errorf("decode screenshot: %v", err)
		return 0
	}
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

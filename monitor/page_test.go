package monitor_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/murmurmq/murmur/internal/testutil"
	"github.com/murmurmq/murmur/monitor"
)

// chromium returns the headless browser, skipping the test when it is
// absent unless CI is set (testutil.Tool).
func chromium(t *testing.T) string {
	t.Helper()
	return testutil.Tool(t, "chromium", testutil.InstallChromium)
}

// runChromium loads url headless with a fresh profile; extra selects the
// output (--dump-dom prints the DOM after the page's timers ran for the
// virtual time budget).
func runChromium(t *testing.T, bin, url string, extra ...string) []byte {
	t.Helper()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(),
		"--virtual-time-budget=5000", "--window-size=1280,1000",
	}
	args = append(append(args, extra...), url)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.Bytes())
	}
	return out
}

var (
	serverNameRe = regexp.MustCompile(`id="server-name">([^<]*)<`)
	chartRe      = regexp.MustCompile(`<canvas id="chart"[^>]*data-points="(\d+)" data-max="([0-9.e+]+)"`)
	statusRe     = regexp.MustCompile(`<body data-status="(\w+)"`)
	membersRe    = regexp.MustCompile(`<td class="state-(\w+)">`)
)

// TestLivePageInChromium loads / in headless Chromium after traffic and
// checks the DOM shows the server and a drawn chart, and that a
// screenshot renders.
func TestLivePageInChromium(t *testing.T) {
	bin := chromium(t)
	srv := startBroker(t, "page-test")
	m := startMonitor(t, srv, monitor.Config{Gossip: fakeCluster{}})
	knownTraffic(t, srv)
	eventually(t, 5*time.Second, "varz to count the traffic", func() bool { return m.Varz().OutMsgs == 2000 })
	url := "http://" + m.Addr().String() + "/"

	dom := runChromium(t, bin, url, "--dump-dom")
	name := serverNameRe.FindSubmatch(dom)
	if name == nil || string(name[1]) != "page-test" {
		t.Fatalf("server name not shown; DOM:\n%s", dom)
	}
	chart := chartRe.FindSubmatch(dom)
	if chart == nil {
		t.Fatalf("no chart in DOM:\n%s", dom)
	}
	points, _ := strconv.Atoi(string(chart[1]))
	peak, _ := strconv.ParseFloat(string(chart[2]), 64)
	if points < 2 || peak <= 0 {
		t.Errorf("chart drew %d points with peak %v msgs/s; want at least 2 points and traffic", points, peak)
	}
	// One member of the fake cluster is suspect: the page says degraded.
	if st := statusRe.FindSubmatch(dom); st == nil || string(st[1]) != "degraded" {
		t.Errorf("page status %q, want degraded", st)
	}
	if ms := membersRe.FindAllSubmatch(dom, -1); len(ms) != 3 {
		t.Errorf("member rows: %d, want 3", len(ms))
	}

	dir := os.Getenv("MURMUR_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	shot := filepath.Join(dir, "monitor-page.png")
	runChromium(t, bin, url, "--screenshot="+shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 1000 || distinctColors(img, 16) < 16 {
		t.Errorf("screenshot %v looks blank", b)
	}
}

// distinctColors counts distinct colours in img, stopping at limit.
func distinctColors(img image.Image, limit int) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}

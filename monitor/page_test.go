package monitor_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/internal/testutil"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/monitor"
	"github.com/murmurmq/murmur/transport/tcp"
)

// chromium returns the headless browser, skipping the test when it is
// absent unless CI is set (testutil.Tool).
func chromium(t *testing.T) string {
	t.Helper()
	return testutil.Tool(t, "chromium", testutil.InstallChromium)
}

var (
	serverNameRe = regexp.MustCompile(`id="server-name">([^<]*)<`)
	chartRe      = regexp.MustCompile(`<canvas id="chart"[^>]*data-points="(\d+)" data-max="([0-9.e+]+)"`)
	sparkRe      = regexp.MustCompile(`<svg id="(conns|subs)-spark"[^>]*data-points="(\d+)"`)
	bodyRe       = regexp.MustCompile(`<body ([^>]*)>`)
	attrRe       = regexp.MustCompile(`data-([a-z-]+)="([^"]*)"`)
	healthRe     = regexp.MustCompile(`id="health"[^>]*>([^<]*)<`)
	chipRe       = regexp.MustCompile(`class="member [^"]*" data-state="(\w+)" data-name="([^"]*)"`)
	subjectRowRe = regexp.MustCompile(`<tr data-subject="([^"]*)">`)
	routeNameRe  = regexp.MustCompile(`<td class="route-name">([^<]*)<`)
	leafsRe      = regexp.MustCompile(`id="leafs"[^>]*>([^<]*)<`)
)

// bodyData is the data-* attributes of the page's <body>.
func bodyData(t *testing.T, dom []byte) map[string]string {
	t.Helper()
	b := bodyRe.FindSubmatch(dom)
	if b == nil {
		t.Fatalf("no <body> in DOM:\n%s", dom)
	}
	out := map[string]string{}
	for _, a := range attrRe.FindAllSubmatch(b[1], -1) {
		out[string(a[1])] = string(a[2])
	}
	return out
}

// namedPair starts two clustered brokers with these names, joined by
// one route.
func namedPair(t *testing.T, names ...string) (a, b *broker.Server) {
	t.Helper()
	srvs := make([]*broker.Server, 2)
	for i := range srvs {
		o := testOptions()
		o.Name = names[i]
		o.Cluster = &broker.ClusterOptions{Name: "east", Listen: broker.Listener{Transport: tcp.New(), Addr: "127.0.0.1:0"}}
		srvs[i] = started(t, newBrokerWith(t, o))
	}
	if err := srvs[0].ConnectRoute(context.Background(), srvs[1].RouteAddr().String()); err != nil {
		t.Fatalf("route: %v", err)
	}
	for _, s := range srvs {
		eventually(t, 5*time.Second, "the route", func() bool { return s.NumRoutes() == 1 })
	}
	return srvs[0], srvs[1]
}

// fiftyMembers is the gossip view of a 50-member cluster whose first two
// members are a and b: gossip node names are ids, the server names are
// in the metadata. One member is suspect, one dead, one left, and one
// dead entry belongs to a broker that restarted under the same name (a
// live entry with a new node id), which is not an alarm.
func fiftyMembers(a, b *broker.Server) (monitor.GossipFunc, []string) {
	var ms []monitor.Member
	var ids []string
	since := time.Now().Add(-3 * time.Minute)
	add := func(id, name, state string) {
		ids = append(ids, id)
		ms = append(ms, monitor.Member{
			Name: id, Address: fmt.Sprintf("10.0.%d.%d:4248", len(ms)/200, len(ms)%200+10), State: state, Since: since,
			Meta: map[string]string{"id": id, "name": name, "version": broker.Version},
		})
	}
	add(a.ID(), a.Name(), monitor.StateAlive)
	ms[0].Local = true
	add(b.ID(), b.Name(), monitor.StateAlive)
	for i := 3; i <= 49; i++ {
		state := monitor.StateAlive
		switch i {
		case 17:
			state = monitor.StateSuspect
		case 33, 41:
			state = monitor.StateDead
		case 49:
			state = monitor.StateLeft
		}
		add(fmt.Sprintf("NFAKE%02dQ7ZK4XW2M5T3C6RDVH8PJ0", i), fmt.Sprintf("edge-%02d", i), state)
	}
	add("NFAKE41RESTARTEDQ7ZK4XW2M5T3C6", "edge-41", monitor.StateAlive)
	return monitor.GossipFunc(func() []monitor.Member { return ms }), ids
}

// steadyTraffic publishes on a few subjects at different rates from a
// client of $G to a subscriber, and on one subject from the system user
// (which must never show), until the test ends.
func steadyTraffic(t *testing.T, srv *broker.Server) {
	t.Helper()
	app, sys, sub := connect(t, srv), connectSys(t, srv), connect(t, srv)
	for _, subj := range []string{"orders.>", "inventory.*", "audit.log"} {
		if _, err := sub.Subscribe(subj, func(*nats.Msg) {}); err != nil {
			t.Fatal(err)
		}
	}
	load := []struct {
		nc      *nats.Conn
		subject string
		perTick int
	}{{app, "orders.created", 12}, {app, "orders.paid", 6}, {app, "inventory.reserved", 3}, {app, "audit.log", 2}, {sys, "sys.noise", 20}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		payload := bytes.Repeat([]byte("x"), 200)
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for _, l := range load {
				for range l.perTick {
					if err := l.nc.Publish(l.subject, payload); err != nil {
						return
					}
				}
			}
		}
	}()
	t.Cleanup(func() { close(stop); wg.Wait() })
}

// TestLivePageInChromium serves the page from the real monitor of a
// broker with a real route and steady traffic, beside a 50-member gossip
// view, and renders it in headless Chromium at a desktop (1280 px) and a
// phone (390 px) width. At each width it checks from the DOM that names,
// never ids, are shown, that charts, sparklines, top subjects, routes,
// leaf nodes and members are drawn, that the health verdict is right, and
// that nothing scrolls sideways; then it saves a full-page screenshot
// (in $MURMUR_SCREENSHOT_DIR, or a temporary directory it logs).
func TestLivePageInChromium(t *testing.T) {
	bin := chromium(t)
	a, b := namedPair(t, "edge-01", "edge-02")
	view, ids := fiftyMembers(a, b)
	m := startMonitor(t, a, monitor.Config{Gossip: view, JetStream: withJetStream(t, a)})
	steadyTraffic(t, a)
	eventually(t, 10*time.Second, "four sampled subjects", func() bool { return len(m.Subjz(0).Subjects) >= 4 })
	url := "http://" + m.Addr().String() + "/"

	dir := os.Getenv("MURMUR_SCREENSHOT_DIR")
	var err error
	if dir == "" {
		dir, err = os.MkdirTemp("", "murmur-page-")
	} else {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)

	br := startBrowser(t, bin)
	for _, w := range []int{1280, 390} {
		t.Run(strconv.Itoa(w), func(t *testing.T) {
			br.t = t
			phone := w < 600
			br.viewport(w, 900, phone)
			br.navigate(url)
			br.waitFor("its data", `document.body.dataset.level &&
				+document.getElementById("chart").dataset.points >= 3 &&
				+document.getElementById("subs-spark").dataset.points >= 3 &&
				document.querySelector("#subjects tr[data-subject]") &&
				document.querySelector("#streams tr[data-stream=S]") &&
				document.querySelectorAll("#members .member").length === 50`)
			var page struct {
				ScrollWidth  int    `json:"sw"`
				ClientWidth  int    `json:"cw"`
				ScrollHeight int    `json:"h"`
				HTML         string `json:"html"`
			}
			br.eval(`({sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth,
				h: document.documentElement.scrollHeight, html: document.documentElement.outerHTML})`, &page)
			checkPage(t, []byte(page.HTML), a, b, ids)
			if page.ClientWidth != w || page.ScrollWidth > page.ClientWidth {
				t.Errorf("page is %d px wide in a %d px viewport (screen %d): it scrolls sideways", page.ScrollWidth, page.ClientWidth, w)
			}
			// The whole page in one picture.
			h := max(page.ScrollHeight, 900)
			br.viewport(w, h, phone)
			var drawn bool
			br.eval(`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, &drawn)
			shot := filepath.Join(dir, fmt.Sprintf("monitor-page-%d.png", w))
			if err := os.WriteFile(shot, br.screenshot(), 0o644); err != nil {
				t.Fatal(err)
			}
			checkScreenshot(t, shot, w, h)
			t.Logf("%d px wide: %s", w, shot)
		})
	}
}

// checkPage checks one rendering of the page.
func checkPage(t *testing.T, dom []byte, a, b *broker.Server, ids []string) {
	t.Helper()
	if name := serverNameRe.FindSubmatch(dom); name == nil || string(name[1]) != a.Name() {
		t.Errorf("server name not shown: %q", name)
	}
	for _, id := range ids {
		if bytes.Contains(dom, []byte(id)) {
			t.Errorf("the page shows the id %s, not a name", id)
		}
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
	sparks := sparkRe.FindAllSubmatch(dom, -1)
	if len(sparks) != 2 {
		t.Errorf("sparklines: %d, want connections and subscriptions", len(sparks))
	}
	for _, s := range sparks {
		if n, _ := strconv.Atoi(string(s[2])); n < 2 {
			t.Errorf("%s sparkline has %d points", s[1], n)
		}
	}
	var subjects []string
	for _, s := range subjectRowRe.FindAllSubmatch(dom, -1) {
		subjects = append(subjects, string(s[1]))
	}
	if len(subjects) < 4 || subjects[0] != "orders.created" || strings.Contains(strings.Join(subjects, " "), "sys.noise") {
		t.Errorf("top subjects %v: want orders.created first, four or more, no system account subject", subjects)
	}
	if routes := routeNameRe.FindAllSubmatch(dom, -1); len(routes) != 1 || string(routes[0][1]) != b.Name() {
		t.Errorf("routes %q, want one to %s", routes, b.Name())
	}
	if l := leafsRe.FindSubmatch(dom); l == nil || string(l[1]) != "none" {
		t.Errorf("leaf nodes %q, want none", l)
	}
	states := map[string]int{}
	names := map[string]bool{}
	for _, c := range chipRe.FindAllSubmatch(dom, -1) {
		states[string(c[1])]++
		names[string(c[2])] = true
	}
	if want := map[string]int{"alive": 46, "suspect": 1, "dead": 2, "left": 1}; fmt.Sprint(states) != fmt.Sprint(want) {
		t.Errorf("member chips by state %v, want %v", states, want)
	}
	if !names[a.Name()] || !names[b.Name()] || !names["edge-33"] {
		t.Errorf("member names %v", names)
	}
	// edge-33 is dead and edge-17 suspect; dead edge-41 came back.
	body := bodyData(t, dom)
	health := healthRe.FindSubmatch(dom)
	if body["level"] != "bad" || health == nil || string(health[1]) != "1 member(s) down, 1 suspect" {
		t.Errorf("health %q (level %s), want 1 member(s) down, 1 suspect", health, body["level"])
	}
}

// checkScreenshot decodes a screenshot and checks its size and that it
// is not blank.
func checkScreenshot(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h || distinctColors(img, 16) < 16 {
		t.Errorf("screenshot %v (want %dx%d) looks blank", b, w, h)
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

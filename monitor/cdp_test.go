package monitor_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"
)

// browser is headless Chromium driven over the Chrome DevTools Protocol
// on --remote-debugging-pipe (commands on its fd 3, answers and events on
// fd 4, each a JSON message ended by a NUL byte), so a test can set the
// viewport exactly (headless windows are at least 500 px wide; a phone is
// narrower), wait for the page's own state and take a full-page
// screenshot, with no dependency beyond the browser.
type browser struct {
	t       *testing.T
	cmd     *exec.Cmd
	cancel  context.CancelFunc
	in      io.WriteCloser
	out     *bufio.Reader
	next    int
	session string // the page target's flat session
}

// startBrowser starts bin with one blank page and attaches to it. The
// browser is closed when the test ends.
func startBrowser(t *testing.T, bin string) *browser {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir="+t.TempDir(), "about:blank")
	cmd.ExtraFiles = []*os.File{inR, outW} // fd 3, fd 4
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("chromium: %v", err)
	}
	inR.Close()
	outW.Close()
	b := &browser{t: t, cmd: cmd, cancel: cancel, in: inW, out: bufio.NewReader(outR)}
	t.Cleanup(func() {
		// A graceful close, so its helper processes are gone before the
		// profile directory is removed; killing is the backstop.
		b.session = ""
		b.call("Browser.close", nil, nil)
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cancel()
			<-exited
		}
		cancel()
		inW.Close()
		outR.Close()
	})
	var targets struct {
		TargetInfos []struct {
			TargetID string `json:"targetId"`
			Type     string `json:"type"`
		} `json:"targetInfos"`
	}
	b.must("Target.getTargets", nil, &targets)
	for _, ti := range targets.TargetInfos {
		if ti.Type == "page" {
			var att struct {
				SessionID string `json:"sessionId"`
			}
			b.must("Target.attachToTarget", map[string]any{"targetId": ti.TargetID, "flatten": true}, &att)
			b.session = att.SessionID
			break
		}
	}
	if b.session == "" {
		t.Fatalf("chromium has no page target: %+v", targets)
	}
	b.must("Page.enable", nil, nil)
	return b
}

// call sends one command (to the page once attached) and decodes its
// result into result, skipping the events that arrive meanwhile.
func (b *browser) call(method string, params, result any) error {
	b.next++
	msg := map[string]any{"id": b.next, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if b.session != "" {
		msg["sessionId"] = b.session
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := b.in.Write(append(data, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	for {
		line, err := b.out.ReadBytes(0)
		if err != nil {
			return fmt.Errorf("%s: reading the answer: %w", method, err)
		}
		var resp struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(line[:len(line)-1], &resp); err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
		if resp.ID != b.next {
			continue // an event
		}
		if resp.Error != nil {
			return fmt.Errorf("%s: %s", method, resp.Error.Message)
		}
		if result == nil {
			return nil
		}
		return json.Unmarshal(resp.Result, result)
	}
}

func (b *browser) must(method string, params, result any) {
	b.t.Helper()
	if err := b.call(method, params, result); err != nil {
		b.t.Fatal(err)
	}
}

// viewport emulates a w×h screen; a phone (mobile) honours the page's
// viewport meta tag as a phone's browser does.
func (b *browser) viewport(w, h int, mobile bool) {
	b.must("Emulation.setDeviceMetricsOverride", map[string]any{
		"width": w, "height": h, "deviceScaleFactor": 1, "mobile": mobile,
	}, nil)
}

// navigate loads url.
func (b *browser) navigate(url string) {
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	b.must("Page.navigate", map[string]any{"url": url}, &nav)
	if nav.ErrorText != "" {
		b.t.Fatalf("navigate %s: %s", url, nav.ErrorText)
	}
}

// eval evaluates a JavaScript expression in the page, awaiting it when it
// is a promise, and decodes its value into v.
func (b *browser) eval(expr string, v any) {
	b.t.Helper()
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	b.must("Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &res)
	if res.ExceptionDetails != nil {
		b.t.Fatalf("eval %q: %s", expr, res.ExceptionDetails.Text)
	}
	if err := json.Unmarshal(res.Result.Value, v); err != nil {
		b.t.Fatalf("eval %q: %v (%s)", expr, err, res.Result.Value)
	}
}

// waitFor waits (up to 20 s of page time) until the JavaScript condition
// holds in the page, checking every 100 ms.
func (b *browser) waitFor(what, cond string) {
	b.t.Helper()
	var ok bool
	b.eval(`new Promise(done => {
		const start = Date.now();
		const check = () => {
			let ok = false;
			try { ok = !!(`+cond+`); } catch (e) {}
			if (ok || Date.now() - start > 20000) return done(ok);
			setTimeout(check, 100);
		};
		check();
	})`, &ok)
	if !ok {
		b.t.Fatalf("the page never showed %s", what)
	}
}

// screenshot captures the viewport as PNG bytes.
func (b *browser) screenshot() []byte {
	b.t.Helper()
	var shot struct {
		Data string `json:"data"`
	}
	b.must("Page.captureScreenshot", map[string]any{"format": "png"}, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil || len(png) == 0 {
		b.t.Fatal(errors.Join(errors.New("screenshot not decodable"), err))
	}
	return png
}

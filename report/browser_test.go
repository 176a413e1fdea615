package report

import (
	"bytes"
	"context"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium. CI installs it (.ci/run), so only a
// developer's machine without it skips the browser tests.
func chromiumPath(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium in PATH: .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("no chromium in PATH (apt-get install chromium); CI runs this test")
	return ""
}

// browser starts a headless chromium with no network: every request that
// is not for a file is refused by the browser itself, and the DevTools
// network events record each URL it was asked for.
func browser(t testing.TB, timeout time.Duration) (context.Context, func() []string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.WindowSize(1280, 900),
		chromedp.NoSandbox, // CI runs as root
		// A proxy that does not exist and no exceptions: nothing reaches a network.
		chromedp.ProxyServer("http://127.0.0.1:9"),
		chromedp.Flag("proxy-bypass-list", "<-loopback>"),
		chromedp.Flag("allow-file-access-from-files", false),
		chromedp.Flag("force-prefers-reduced-motion", true),
		// Chromium's own temp folder (its singleton socket) goes with the
		// test, which stops the browser before it removes the folder.
		chromedp.Env("TMPDIR="+t.TempDir()),
	)
	ctx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(ctx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	var mu sync.Mutex
	var urls []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			urls = append(urls, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}},
	}); err != nil {
		t.Fatal(err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), urls...)
	}
}

// artefactDir keeps the screenshots after the test ends when someone will
// look at them: in CALM_ARTEFACTS, or with -v (which prints where they
// are), or when the test failed; otherwise they go with the test.
func artefactDir(t *testing.T) string {
	dir := os.Getenv("CALM_ARTEFACTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "calm-html-report-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if !testing.Verbose() && !t.Failed() {
				os.RemoveAll(dir)
			}
		})
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestHTMLReportInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs without -short")
	}
	t.Parallel() // mostly waits on the browser (a session plays in real time): the heavy redaction tests run beside it
	db, r := htmlIncident(t)
	// s2 (190 KiB) loads only when it is first sought, as a large session does.
	page, _ := exportHTML(t, db, r, HTMLOptions{Preload: 64 << 10})
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, []byte(page), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, requests := browser(t, 2*time.Minute)
	run := func(what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		if _, err := chromedp.Run(ctx, a); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("open the page", chromedp.Navigate("file://"+path))
	run("both players made", chromedp.Poll[chromedp.Void](`window.calmReport && window.calmReport.players.length === 2 && document.querySelectorAll('.ap-player').length === 2`, chromedp.WithPollingTimeout(20*time.Second)))
	if errs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.calmReport.errors`)); err != nil || len(errs) > 0 {
		t.Fatalf("the players failed: %v %v", errs, err)
	}

	// The marker is on the preloaded player's progress bar; the other has
	// not read its cast yet.
	run("markers on s1's progress bar", chromedp.Poll[chromedp.Void](`document.querySelectorAll('#player-0 .ap-marker-container').length === 1`, chromedp.WithPollingTimeout(20*time.Second)))
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#player-1 .ap-marker-container').length`)); err != nil || n != 0 {
		t.Fatalf("s2 was loaded with the page: %d markers %v", n, err)
	}

	// The short session plays to its end.
	run("play s1", chromedp.Evaluate[chromedp.Void](`window.calmReport.players[0].play()`, chromedp.EvalAwaitPromise))
	run("s1 ends", chromedp.Poll[chromedp.Void](`window.calmReport.ended[0] === true`, chromedp.WithPollingTimeout(30*time.Second)))
	end, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`window.calmReport.players[0].getCurrentTime()`))
	if dur, _ := chromedp.Run(ctx, chromedp.Evaluate[float64](`window.calmReport.players[0].getDuration()`)); err != nil || end < dur-0.1 || dur < 4 {
		t.Fatalf("s1 ended at %.2f s of %.2f s (%v)", end, dur, err)
	}
	// shoot takes a screenshot of an element in view, after a frame.
	shoot := func(id string) []byte {
		t.Helper()
		run("scroll to #"+id, chromedp.Evaluate[chromedp.Void](`document.getElementById('`+id+`').scrollIntoView()`))
		run("a frame", chromedp.Evaluate[chromedp.Void](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))`, chromedp.EvalAwaitPromise))
		shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID(id)))
		if err != nil {
			t.Fatalf("screenshot of #%s: %v", id, err)
		}
		return shot
	}
	screen := shoot("player-0")
	screens := artefactDir(t)
	keep := func(name string, shot []byte) {
		// A blank shot (a section not drawn yet) is a failure, not an artefact.
		img, err := png.Decode(bytes.NewReader(shot))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		colours := map[color.Color]bool{}
		for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y && len(colours) < 3; y += 3 {
			for x := img.Bounds().Min.X; x < img.Bounds().Max.X && len(colours) < 3; x += 3 {
				colours[img.At(x, y)] = true
			}
		}
		if len(colours) < 3 {
			t.Errorf("screenshot %s is blank", name)
		}
		p := filepath.Join(screens, name+".png")
		if err := os.WriteFile(p, shot, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
	keep("player-s1-at-end", screen)

	// A click on each marker in the timeline moves its player there: the
	// second after a 30 s pause that the replay shortens, in a session that
	// the click loads.
	for _, sel := range []string{`li.k-marker[data-session="0"]`, `li.k-marker[data-session="1"]`} {
		run("click "+sel, chromedp.Click(chromedp.CSS(sel+" .detail")))
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(async () => {
			await window.calmReport.lastSeek;
			const li = document.querySelector('`+sel+`');
			return [Number(li.dataset.t), window.calmReport.players[Number(li.dataset.session)].getCurrentTime()];
		})()`, chromedp.EvalAwaitPromise))
		if err != nil || len(got) != 2 || got[0] == 0 || math.Abs(got[0]-got[1]) > 0.5 {
			t.Fatalf("after a click on %s the player is at %v (marker, player) %v", sel, got, err)
		}
	}

	run("marker on s2's progress bar", chromedp.Poll[chromedp.Void](`document.querySelectorAll('#player-1 .ap-marker-container').length === 1`, chromedp.WithPollingTimeout(20*time.Second)))

	// No secret is anywhere in the document, nor in the casts as the
	// player reads them.
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
		const casts = await Promise.all(window.calmReport.players.map((_, i) => window.calmReport.castText(i)));
		return document.documentElement.outerHTML + document.body.innerText + casts.join('\n');
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range htmlSecrets {
		if strings.Contains(text, s.secret) {
			t.Errorf("the page shows %q", s.secret)
		}
	}
	if !strings.Contains(text, "deleteMany") || !strings.Contains(text, "[REDACTED aws access key]") {
		t.Fatal("the page's text was not read")
	}

	// Copy takes a folded capture whole, its hidden lines included.
	copied, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
		let text = null;
		navigator.clipboard.writeText = t => { text = t; return Promise.resolve(); };
		document.querySelector('button.copy[data-target="text-c2"]').click();
		await new Promise(r => setTimeout(r, 50));
		return text;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil || strings.Count(copied, "\n") != 119 || !strings.HasPrefix(copied, "line 001 of") || !strings.Contains(copied, "line 060 of") || !strings.HasSuffix(copied, "line 120 of the scrollback") {
		t.Fatalf("Copy gave %d lines: %.80q...%v", strings.Count(copied, "\n")+1, copied, err)
	}

	// A screenshot of each section.
	for _, id := range []string{"summary", "timeline", "checklist", "sessions", "captures", "notes", "message"} {
		keep("section-"+id, shoot(id))
	}

	// The reader's dark setting darkens the page; printed, the players and
	// buttons go and each section starts a sheet.
	media := func(m, scheme string) {
		t.Helper()
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: m, Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
			t.Fatal(err)
		}
	}
	style := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	media("", "dark")
	if bg := style(`getComputedStyle(document.body).backgroundColor`); bg != "rgb(22, 24, 28)" {
		t.Errorf("dark background is %s", bg)
	}
	keep("section-captures-dark", shoot("captures"))
	media("", "light")
	if bg := style(`getComputedStyle(document.body).backgroundColor`); bg != "rgb(255, 255, 255)" {
		t.Errorf("light background is %s", bg)
	}
	media("print", "light")
	if got := style(`[getComputedStyle(document.getElementById('player-0')).display, getComputedStyle(document.getElementById('captures')).breakBefore, getComputedStyle(document.querySelector('button.copy')).display].join(' ')`); got != "none page none" {
		t.Errorf("printed: player display, section break, button display = %s", got)
	}
	media("", "")

	// Every request stayed in the file.
	urls := requests()
	if len(urls) == 0 {
		t.Fatal("no request was seen: the network events are not recorded")
	}
	for _, u := range urls {
		if !strings.HasPrefix(u, "file:") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "blob:") {
			t.Errorf("the page asked for %s", u)
		}
	}
}

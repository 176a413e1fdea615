package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"calm/checklist"
	"calm/model"
	"calm/storage"
)

// benchIncident records an incident with one session of sessionMiB of
// varied log output (4 KiB reads over ten minutes, as a PTY delivers them)
// and 20 captures of 64 KiB, in a real store.
func benchIncident(b *testing.B, sessionMiB int) (*storage.DB, Record) {
	b.Helper()
	dir := b.TempDir()
	db, err := storage.Open(storage.Options{Path: filepath.Join(dir, "calm.db"), EvidenceDir: filepath.Join(dir, "evidence")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	inc, _ := db.NewIncident("orders table truncated")
	rng := rand.New(rand.NewPCG(1, 2))
	logLine := func(i int) string {
		return fmt.Sprintf("2026-11-26T14:%02d:%02d.%03dZ \x1b[36mINFO\x1b[0m req=%08x user=%d path=/api/v1/orders/%d status=%d took=%dms\r\n",
			i/60000%60, i/1000%60, i%1000, rng.Uint32(), rng.IntN(100000), rng.IntN(1000000), 200+rng.IntN(4)*100, rng.IntN(900))
	}
	w, err := model.NewCaptureWriter(db, "", model.NewCapture{Title: "kubectl logs -f api", Source: model.SourceSession, Recording: &model.Recording{Command: "bash", Cols: 160, Rows: 48}})
	if err != nil {
		b.Fatal(err)
	}
	w.Write([]byte(`{"version": 2, "width": 160, "height": 48, "timestamp": 1795701600}` + "\n"))
	total, n := 0, 0
	var read strings.Builder
	for total < sessionMiB<<20 {
		read.Reset()
		for read.Len() < 4096 {
			read.WriteString(logLine(n))
			n++
		}
		q, _ := json.Marshal(read.String())
		line := "[" + strconv.FormatFloat(600*float64(total)/float64(sessionMiB<<20), 'f', 6, 64) + `, "o", ` + string(q) + "]\n"
		w.Write([]byte(line))
		total += len(line)
	}
	s1, err := w.Close()
	if err != nil {
		b.Fatal(err)
	}
	db.AddMarker(inc.ID, s1.ID, "TRUNCATE (SQL)", 300)
	for c := range 20 {
		var text strings.Builder
		for text.Len() < 64<<10 {
			text.WriteString(logLine(n))
			n++
		}
		save(b, db, model.NewCapture{Title: fmt.Sprintf("snapshot %d", c), Source: "snap"}, text.String())
	}
	r, err := Load(db, inc.ID, checklist.Builtin())
	if err != nil {
		b.Fatal(err)
	}
	return db, r
}

// BenchmarkHTMLExport: a 50 MiB session and 20 captures (CALM_BENCH_MB
// changes the session's size). Its baseline, measured in the same run, is
// what every export pays for the same content: the session's redacted
// asciicast (--format cast) and each capture's redacted bytes. Both are
// measured again with a redactor of no rules, which leaves the page's own
// work: reading, parsing, compressing and writing.
func BenchmarkHTMLExport(b *testing.B) {
	mib := 50
	if v, err := strconv.Atoi(os.Getenv("CALM_BENCH_MB")); err == nil && v > 0 {
		mib = v
	}
	db, r := benchIncident(b, mib)
	red, _ := NewRedactor(nil)
	none := &Redactor{}
	var base, html, baseNone, htmlNone time.Duration
	// CPU time of the process (every goroutine, the collector's too): the
	// steadier figure on a machine shared with other work.
	var htmlCPU, htmlNoneCPU time.Duration
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	timed := func(total *time.Duration, f func() error) {
		start := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		*total += time.Since(start)
	}
	timedCPU := func(total, cpuTotal *time.Duration, f func() error) {
		c := cpu()
		timed(total, f)
		*cpuTotal += cpu() - c
	}
	content := func(red *Redactor) func() error {
		return func() error {
			for _, c := range r.Captures {
				if _, err := Content(context.Background(), db, c, io.Discard, red); err != nil {
					return err
				}
			}
			return nil
		}
	}
	page := func(red *Redactor) func() error {
		return func() error {
			_, err := HTML(context.Background(), db, r, io.Discard, red, time.Now(), HTMLOptions{})
			return err
		}
	}
	for b.Loop() {
		timed(&baseNone, content(none))
		timedCPU(&htmlNone, &htmlNoneCPU, page(none))
		timed(&base, content(red))
		timedCPU(&html, &htmlCPU, page(red))
	}
	n := float64(b.N)
	b.ReportMetric(html.Seconds()/n, "html-s/op")
	b.ReportMetric(base.Seconds()/n, "redacted-content-s/op")
	b.ReportMetric(float64(html)/float64(base), "html/redacted-content")
	b.ReportMetric(htmlNone.Seconds()/n, "html-no-rules-s/op")
	b.ReportMetric(baseNone.Seconds()/n, "content-no-rules-s/op")
	b.ReportMetric(htmlCPU.Seconds()/n, "html-cpu-s/op")
	b.ReportMetric(htmlNoneCPU.Seconds()/n, "html-no-rules-cpu-s/op")
}

// BenchmarkHTMLFirstPaint opens the report of the same incident in headless
// chromium and reads its first contentful paint; the baseline, in the same
// browser, is a page holding one heading.
func BenchmarkHTMLFirstPaint(b *testing.B) {
	mib := 50
	if v, err := strconv.Atoi(os.Getenv("CALM_BENCH_MB")); err == nil && v > 0 {
		mib = v
	}
	db, r := benchIncident(b, mib)
	dir := b.TempDir()
	report := filepath.Join(dir, "report.html")
	f, err := os.OpenFile(report, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	// The page's shape, not its redaction, decides how soon it paints: no
	// rules keeps the benchmark short.
	if _, err := HTML(context.Background(), db, r, f, &Redactor{}, time.Now(), HTMLOptions{}); err != nil {
		b.Fatal(err)
	}
	f.Close()
	fi, _ := os.Stat(report)
	plain := filepath.Join(dir, "plain.html")
	os.WriteFile(plain, []byte("<!DOCTYPE html><title>plain</title><h1>plain</h1>"), 0o600)
	ctx, _ := browser(b, 10*time.Minute)
	// Each page opens in a new tab, so no page's work delays another's.
	// For the report, also how long a click on the marker in the timeline
	// takes to show the session there: the player reads the 50 MiB cast
	// then, not with the page.
	var ready []float64
	paint := func(path string, player bool) float64 {
		tab, cancel := chromedp.NewContext(ctx)
		defer cancel()
		if _, err := chromedp.Run(tab, chromedp.Navigate("file://"+path)); err != nil {
			b.Fatal(err)
		}
		ms, err := chromedp.Run(tab, chromedp.Poll[float64](`performance.getEntriesByName('first-contentful-paint')[0]?.startTime`, chromedp.WithPollingTimeout(30*time.Second)))
		if err != nil {
			b.Fatal(err)
		}
		if player {
			if _, err := chromedp.Run(tab, chromedp.Poll[chromedp.Void](`window.calmReport && window.calmReport.players.length === 1`, chromedp.WithPollingTimeout(time.Minute))); err != nil {
				b.Fatal(err)
			}
			took, err := chromedp.Run(tab, chromedp.Evaluate[[]float64](`(async () => {
				const t0 = performance.now();
				const li = document.querySelector('li.k-marker[data-session="0"]');
				li.querySelector('.detail').click();
				await window.calmReport.lastSeek;
				return [performance.now() - t0, Number(li.dataset.t), window.calmReport.players[0].getCurrentTime()];
			})()`, chromedp.EvalAwaitPromise))
			if err != nil || len(took) != 3 || took[2] < took[1]-0.5 || took[2] > took[1]+0.5 {
				b.Fatalf("seek in the large session: %v %v", took, err)
			}
			ready = append(ready, took[0])
		}
		return ms
	}
	paint(plain, false) // the browser's first page pays for its start
	paint(report, false)
	// Medians: the machine is shared, and one busy moment skews a mean.
	var page, base []float64
	for b.Loop() {
		base = append(base, paint(plain, false))
		page = append(page, paint(report, true))
	}
	median := func(v []float64) float64 {
		sort.Float64s(v)
		return v[len(v)/2]
	}
	b.ReportMetric(median(page), "median-fcp-ms")
	b.ReportMetric(median(base), "median-plain-fcp-ms")
	b.ReportMetric(median(ready), "median-first-seek-ms")
	b.ReportMetric(float64(fi.Size())/(1<<20), "page-MiB")
}

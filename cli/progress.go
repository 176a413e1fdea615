package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"calm/model"
	"calm/scratch"
)

// progress shows how far long work has got, on stderr, and only when stderr
// is a terminal: piped or redirected, nothing is drawn (a nil *progress does
// nothing). The bar is redrawn at most ten times a second and cleared when
// the work ends, so it leaves no trace among the command's own lines.
type progress struct {
	bar     *progressbar.ProgressBar
	unwatch func() // ends the bar's watch for Ctrl-C
	// n and max follow the bar's: work that turns out larger than foreseen
	// (a session read twice) raises max instead of ending the bar early.
	n, max int64
	mu     sync.Mutex
	// unwritten names the file an interrupted command leaves unwritten.
	unwritten atomic.Pointer[string]
	ended     atomic.Bool // done: clear has nothing to take off
}

// progressEvery is how often the bar is redrawn at most.
const progressEvery = 100 * time.Millisecond

// progress starts a bar for total units (bytes when bytes is set); total -1
// is a spinner for work whose size is not known.
func (e *env) progress(what string, total int64, bytes bool) *progress {
	if !isTerminal(e.stderr) || os.Getenv("CALM_NO_PROGRESS") != "" || total == 0 {
		return nil
	}
	p := newProgress(e.stderr, what, total, bytes)
	e.bar.Store(p)
	return p
}

// newProgress draws a bar on terminal.
func newProgress(terminal io.Writer, what string, total int64, bytes bool) *progress {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(terminal),
		progressbar.OptionSetDescription("calm: " + what),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(progressEvery),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSpinnerType(14),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	}
	if total > 0 || bytes {
		// A count of an unknown total would read "(0/-)": a spinner says
		// what it counts in its description, if anything.
		opts = append(opts, progressbar.OptionShowCount())
	}
	if total > 0 {
		// One more than the work: only done ends the bar, so it stays while
		// the last of the work (a bundle's compression) goes on.
		total++
	}
	p := &progress{bar: progressbar.NewOptions64(total, opts...), max: total}
	// Ctrl-C while the bar is up would leave it on the line above the
	// prompt, saying nothing: take it off and say what stopped, before
	// the temp files go and calm leaves.
	p.unwatch = scratch.OnSignal(func(s os.Signal) {
		p.bar.Clear()
		if file := p.unwritten.Load(); file != nil {
			fmt.Fprintf(terminal, "\rcalm: %s: interrupted by %s: %s was NOT written\n", what, signalName(s), *file)
			return
		}
		fmt.Fprintf(terminal, "\rcalm: %s: interrupted by %s; nothing after this point was done\n", what, signalName(s))
	})
	return p
}

func (p *progress) add(n int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.n += n
	if p.max > 0 && p.n >= p.max {
		p.max = p.n + p.n/4
		p.bar.ChangeMax64(p.max)
	}
	p.mu.Unlock()
	p.bar.Add64(n)
}

// writes says which file the work writes: Ctrl-C says it was not written.
func (p *progress) writes(path string) {
	if p != nil {
		p.unwritten.Store(&path)
	}
}

func (p *progress) describe(what string) {
	if p != nil {
		p.bar.Describe("calm: " + what)
	}
}

// clear takes the bar off its line, before a line of text goes there; the
// next update draws it again.
func (p *progress) clear() {
	if p != nil && !p.ended.Load() {
		p.bar.Clear()
	}
}

// done ends the bar and clears its line.
func (p *progress) done() {
	if p != nil {
		p.ended.Store(true)
		p.unwatch()
		p.bar.Finish()
		p.bar.Exit()
	}
}

// counting passes writes on to w and counts them on the bar.
type counting struct {
	w io.Writer
	p *progress
}

func (c counting) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.p.add(int64(n))
	return n, err
}

// writer counts what goes through w; w itself when there is no bar.
func (p *progress) writer(w io.Writer) io.Writer {
	if p == nil {
		return w
	}
	return counting{w, p}
}

// readingStore is a store whose reads of captures count on a bar: an export
// or a bundle reads each capture through it.
type readingStore struct {
	model.Store
	p *progress
}

func (s readingStore) WriteContent(ctx context.Context, ref string, from int64, w io.Writer) error {
	return s.Store.WriteContent(ctx, ref, from, s.p.writer(w))
}

func (s readingStore) WriteText(ctx context.Context, ref string, w io.Writer) error {
	return s.Store.WriteText(ctx, ref, s.p.writer(w))
}

// readingCaptures returns the store with a bar over the size of the
// incident's captures, and the bar.
func (e *env) readingCaptures(what string, caps []model.Capture) (model.Store, *progress) {
	var total int64
	for _, c := range caps {
		total += c.Size
	}
	p := e.progress(what, total, true)
	if p == nil {
		return e.store, nil
	}
	return readingStore{e.store, p}, p
}

// verifyProgress follows a verify the agent runs: it records a verify event
// for each capture it has read back, which a second connection counts,
// weighing each capture by the bytes of all its copies.
type verifyProgress struct {
	bar  *progress
	stop chan struct{}
	done chan struct{}
}

func (e *env) verifyProgress(ref string) *verifyProgress {
	if !isTerminal(e.stderr) || os.Getenv("CALM_NO_PROGRESS") != "" {
		return nil
	}
	var incidents []model.Incident
	if ref == "" {
		all, err := e.store.Incidents()
		if err != nil {
			return nil
		}
		incidents = all
	} else if inc, err := e.store.Incident(ref); err == nil {
		incidents = []model.Incident{inc}
	}
	weight := map[string]int64{} // incident/capture: bytes to read back
	since := map[string]uint64{} // incident: the last event before this verify
	var total int64
	for _, inc := range incidents {
		caps, err := e.store.Captures(inc.ID)
		if err != nil {
			return nil
		}
		for _, c := range caps {
			if c.State == model.CaptureSealed {
				w := max(c.Size, 1) * int64(max(len(c.Copies), 1))
				weight[inc.ID+"/"+c.ID] = w
				total += w
			}
		}
		events, err := e.store.Events(inc.ID)
		if err != nil {
			return nil
		}
		if len(events) > 0 {
			since[inc.ID] = events[len(events)-1].Seq
		}
	}
	bar := e.progress("verifying copies", total, true)
	if bar == nil {
		return nil
	}
	v := &verifyProgress{bar: bar, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(v.done)
		counted := map[string]bool{}
		tick := time.NewTicker(4 * progressEvery)
		defer tick.Stop()
		for {
			select {
			case <-v.stop:
				return
			case <-tick.C:
			}
			for _, inc := range incidents {
				events, err := e.store.Events(inc.ID)
				if err != nil {
					continue
				}
				for _, ev := range events {
					key := inc.ID + "/" + ev.Item
					if ev.Seq > since[inc.ID] && ev.Kind == model.EventVerify && !counted[key] {
						counted[key] = true
						bar.add(weight[key])
					}
				}
			}
		}
	}()
	return v
}

// end stops following and clears the bar.
func (v *verifyProgress) end() {
	if v != nil {
		close(v.stop)
		<-v.done
		v.bar.done()
	}
}

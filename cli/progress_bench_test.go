package cli

import (
	"context"
	"io"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"calm/checklist"
	"calm/model"
	"calm/report"
	"calm/storage"
)

// BenchmarkExportProgress measures what the progress bar costs an export:
// the text export of a 64 MiB capture from a real store, quiet (stderr piped)
// and with the bar drawn (to io.Discard, as to a terminal), in one run.
func BenchmarkExportProgress(b *testing.B) {
	dir := b.TempDir()
	db, err := storage.Open(storage.Options{Path: filepath.Join(dir, "calm.db"), EvidenceDir: filepath.Join(dir, "evidence")})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	inc, _ := db.NewIncident("bench")
	const size = 64 << 20
	w, err := model.NewCaptureWriter(db, inc.ID, model.NewCapture{Title: "dump", Source: "tee"})
	if err != nil {
		b.Fatal(err)
	}
	w.Write(shellText(size, 1))
	if _, err := w.Close(); err != nil {
		b.Fatal(err)
	}
	rec, err := report.Load(db, inc.ID, checklist.Builtin())
	if err != nil {
		b.Fatal(err)
	}
	red, _ := report.NewRedactor(nil)
	export := func(b *testing.B, s model.Store) {
		if _, err := report.Text(context.Background(), s, rec, io.Discard, red); err != nil {
			b.Fatal(err)
		}
	}
	// Quiet and with the bar, one after the other in each round, timed by
	// the process's CPU time: the machine is shared, and wall time drifts
	// between two sub-benchmarks more than the bar could cost.
	var quiet, drawn time.Duration
	writes := 0
	b.SetBytes(size)
	for b.Loop() {
		t0 := cpuTime()
		export(b, db)
		t1 := cpuTime()
		bar := newProgress(io.Discard, "exporting", size, true)
		counted := &countingWrites{Store: readingStore{db, bar}}
		export(b, counted)
		bar.done()
		t2 := cpuTime()
		quiet, drawn, writes = quiet+t1-t0, drawn+t2-t1, counted.n
	}
	n := float64(b.N)
	b.ReportMetric(float64(quiet.Milliseconds())/n, "quiet-cpu-ms/op")
	b.ReportMetric(float64(drawn.Milliseconds())/n, "bar-cpu-ms/op")
	b.ReportMetric(float64(writes), "counted-writes/op")
}

// countingWrites counts the writes a store's reads make, each of which the
// bar counts.
type countingWrites struct {
	model.Store
	n int
}

func (c *countingWrites) WriteContent(ctx context.Context, ref string, from int64, w io.Writer) error {
	return c.Store.WriteContent(ctx, ref, from, writeCounter{w, &c.n})
}

type writeCounter struct {
	w io.Writer
	n *int
}

func (c writeCounter) Write(p []byte) (int, error) { *c.n++; return c.w.Write(p) }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkProgressAdd is the bar's cost for one counted write, drawn to
// io.Discard as to a terminal (at most ten draws a second).
func BenchmarkProgressAdd(b *testing.B) {
	bar := newProgress(io.Discard, "exporting", 1<<50, true)
	for b.Loop() {
		bar.add(32 << 10)
	}
	bar.done()
}

// BenchmarkProgressDraw is the cost of drawing the bar once; it is drawn at
// most ten times a second.
func BenchmarkProgressDraw(b *testing.B) {
	bar := newProgress(io.Discard, "exporting", 1<<30, true)
	for b.Loop() {
		bar.bar.RenderBlank()
	}
	bar.done()
}

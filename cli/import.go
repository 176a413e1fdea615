package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"calm/capture"
	"calm/model"
	"calm/storage"
	"calm/terminal"
)

// cmdImport brings an asciinema recording (asciicast v2 or v3) into an
// incident as a session. It goes the way a recorded session does: written
// as calm's own journal (asciicast v2, times from the start), followed and
// sealed by the store, so it gets its copies, its derived text for search
// and review, and exports as any other.
func cmdImport(e *env, args []string) error {
	fs := e.flags("import", "[--incident ID] FILE.cast [TITLE]")
	incident := fs.String("incident", "", "the incident (default: the current one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		return usageError("usage: calm import FILE.cast [TITLE] (an asciinema recording, asciicast v2 or v3)")
	}
	path := fs.Arg(0)
	f, err := os.Open(path)
	if err != nil {
		return err // os names the file and what went wrong
	}
	defer f.Close()
	title := strings.Join(fs.Args()[1:], " ")

	// The header first: a file that is no recording changes nothing.
	br := bufio.NewReaderSize(f, 256<<10)
	first, err := br.ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var h terminal.Header
	probe := terminal.CastReader{Header: func(got terminal.Header) { h = got }}
	probe.Write(first)
	probe.Close()
	if probe.Version == 0 {
		return fmt.Errorf("%s is not an asciicast v2 or v3 recording (its first line is no asciicast header): calm imports what asciinema rec writes", path)
	}
	if title == "" {
		title = h.Title
	}
	if title == "" {
		title = "imported " + filepath.Base(path)
	}
	start := time.Now()
	if h.Timestamp > 0 {
		start = time.Unix(h.Timestamp, 0)
	}
	journalPath := filepath.Join(filepath.Dir(e.cfg.Store), "journal", fmt.Sprintf("%s-%d-import.cast", time.Now().UTC().Format("20060102T150405Z"), os.Getpid()))
	j, err := capture.CreateJournal(journalPath, terminal.Header{Width: h.Width, Height: h.Height, Title: title, Env: h.Env}, start)
	if err != nil {
		return err
	}
	events := 0
	var werr error
	r := terminal.CastReader{
		Event: func(at float64, kind, data string) {
			if werr != nil {
				return
			}
			t := start.Add(time.Duration(at * float64(time.Second)))
			events++
			switch kind {
			case "o":
				werr = j.Output([]byte(data), t)
			case "i":
				werr = j.Input([]byte(data), t)
			case "m":
				werr = j.Marker(data, t)
			case "r":
				if cols, rows, ok := terminal.ParseSize(data); ok {
					werr = j.Resize(cols, rows, t)
				}
			default:
				events-- // v3's exit status and kinds calm does not keep
			}
		},
	}
	r.Write(first)
	_, err = io.CopyBuffer(&r, br, make([]byte, 256<<10))
	r.Close()
	cerr := j.Close()
	if err == nil {
		err = werr
	}
	if err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(journalPath)
		return fmt.Errorf("import %s: %w", path, err)
	}

	host, _ := os.Hostname()
	rec := &model.Recording{Command: "calm import " + filepath.Base(path), Host: host, User: os.Getenv("USER"),
		Cols: h.Width, Rows: h.Height, Journal: journalPath}
	c, err := e.store.CreateCapture(*incident, model.NewCapture{Title: title, Source: model.SourceSession, Recording: rec})
	if err != nil {
		os.Remove(journalPath)
		return err
	}
	if err := e.store.FollowJournal(c.Incident, c.ID); err != nil {
		return err
	}
	if _, err := e.store.SealJournal(c.Incident, c.ID, j.Size(), ""); err != nil {
		return err
	}
	c, err = storage.WaitSealed(e.store, c.Incident+"/"+c.ID, 10*time.Minute)
	if err != nil {
		return err
	}
	if c.State != model.CaptureSealed {
		return fmt.Errorf("%s/%s is still being stored: calm status shows when it is sealed", c.Incident, c.ID)
	}
	skipped := ""
	if r.Skipped > 0 {
		skipped = fmt.Sprintf(" (%s that were no event skipped)", plural(r.Skipped, "line"))
	}
	fmt.Fprintf(e.stdout, "imported %s as %s/%s: asciicast v%d, %s%s, %s, %d of %d copies verified\n",
		path, c.Incident, c.ID, probe.Version, plural(events, "event"), skipped, humanBytes(c.Size), c.VerifiedCopies(), len(c.Copies))
	if abs, err := filepath.Abs(path); err == nil && filepath.Dir(abs) == filepath.Dir(journalPath) {
		// A recording the store never took, brought in now: out of the
		// journal folder, where every command names what it holds.
		done := filepath.Join(filepath.Dir(journalPath), "brought-in")
		if os.MkdirAll(done, 0o700) == nil && os.Rename(abs, filepath.Join(done, filepath.Base(abs))) == nil {
			fmt.Fprintf(e.stdout, "moved %s into %s\n", path, done)
		}
	}
	return nil
}

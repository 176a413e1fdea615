package cli

import (
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"calm/report"
	"calm/storage/agent"
	"calm/ui"
)

// cmdUI opens the TUI on an incident (the current one by default).
func cmdUI(e *env, args []string) error {
	fs := e.flags("ui", "[--item ID] [INCIDENT]")
	item := fs.String("item", "", "show this capture or session first (default: the newest)")
	if err := parse(fs, args); err != nil {
		return err
	}
	return runUI(e, fs.Arg(0), *item, false)
}

// cmdReview opens the TUI read-only, timeline first, for the look back.
func cmdReview(e *env, args []string) error {
	fs := e.flags("review", "INCIDENT|BUNDLE")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("name the incident to review (see 'calm incident list'), or a pulled bundle")
	}
	if path := e.pulledBundle(fs.Arg(0)); path != "" {
		bs, err := report.OpenBundle(path)
		if err != nil {
			return err
		}
		defer bs.Close() // the unpacked captures go with the review
		e.store = bs
		// A bundle holds one copy of each capture, checked against its
		// SHA256SUMS: the origin's rule for copies is not the bundle's,
		// and "!1" on every capture would read as an alarm.
		e.cfg.CopiesRequired, e.cfg.DevicesRequired = 1, 1
		return runUI(e, "", "", true)
	}
	// An incident mistyped is said as such, terminal or not.
	if _, err := e.store.Incident(fs.Arg(0)); err != nil {
		return err
	}
	return runUI(e, fs.Arg(0), "", true)
}

func runUI(e *env, incident, item string, review bool) error {
	if !isTerminal(e.stdout) || !isTerminal(e.stdin) {
		return fmt.Errorf("the TUI needs a terminal; 'calm status' prints the incident instead")
	}
	// Nothing may write over the screen: a damaged store copy is shown
	// inside the TUI as it is read (New reads already, before there is a
	// UI to show it: those wait), and said again once the TUI is gone.
	var (
		mu      sync.Mutex
		shown   *ui.UI
		notes   []string
		hookedC *agent.Client
	)
	if c, ok := e.store.(*agent.Client); ok && c.Notice != nil {
		say := c.Notice
		hookedC = c
		c.Notice = func(n string) {
			mu.Lock()
			notes = append(notes, n)
			u := shown
			mu.Unlock()
			if u != nil {
				u.Notice(n)
			}
		}
		defer func() {
			mu.Lock()
			defer mu.Unlock()
			for _, n := range notes {
				say(n)
			}
		}()
	}
	u, err := ui.New(ui.Options{
		Store:           e.store,
		Incident:        incident,
		Item:            item,
		ReadOnly:        review,
		CopiesRequired:  e.cfg.CopiesRequired,
		DevicesRequired: e.cfg.DevicesRequired,
		Checklists:      e.cfg.checklistDirs(),
		Redact:          e.cfg.Redact,
		Webhook:         e.cfg.Webhook,
		IdleLimit:       time.Duration(e.cfg.IdleTimeLimit * float64(time.Second)),
		DraftsFile:      filepath.Join(filepath.Dir(e.cfg.Store), "drafts.json"),
	})
	if err != nil {
		return err
	}
	if hookedC != nil {
		mu.Lock()
		shown = u
		early := append([]string(nil), notes...)
		mu.Unlock()
		for _, n := range early {
			u.Notice(n)
		}
	}
	return u.Run()
}

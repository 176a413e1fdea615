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
	fs := e.flags("review", "INCIDENT")
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
		e.store = bs
		return runUI(e, "", "", true)
	}
	return runUI(e, fs.Arg(0), "", true)
}

func runUI(e *env, incident, item string, review bool) error {
	if !isTerminal(e.stdout) || !isTerminal(e.stdin) {
		return fmt.Errorf("the TUI needs a terminal; 'calm status' prints the incident instead")
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
	if c, ok := e.store.(*agent.Client); ok && c.Notice != nil {
		// Nothing may write over the screen: a damaged store copy is shown
		// inside the TUI as it is read, and said again once it is gone.
		say, notes := c.Notice, []string{}
		var mu sync.Mutex
		c.Notice = func(n string) {
			mu.Lock()
			notes = append(notes, n)
			mu.Unlock()
			u.Notice(n)
		}
		defer func() {
			mu.Lock()
			defer mu.Unlock()
			for _, n := range notes {
				say(n)
			}
		}()
	}
	return u.Run()
}

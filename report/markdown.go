package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"calm/checklist"
	"calm/model"
)

const timeLayout = "2006-01-02 15:04:05"

// summaryStyle puts the summary's facts into an export's format: text a
// free text (a title, a note), at a time, strong what must not be missed.
type summaryStyle struct {
	text   func(string) string
	at     func(time.Time) string
	strong func(string) string
}

// summaryFacts are the postmortem's summary lines, the same in every
// export that shows them.
func summaryFacts(r Record, st summaryStyle) []fact {
	inc := r.Incident
	f := []fact{{"What happened", st.text(inc.Title)}}
	if notes := r.Notes(); len(notes) > 0 {
		f = append(f, fact{"First note", st.text(notes[0].Text)})
	}
	f = append(f, fact{"Opened", st.at(inc.Opened)})
	first, resolved := r.FirstCapture(), r.Resolved()
	if !first.IsZero() {
		f = append(f, fact{"First capture", st.at(first)})
	}
	switch {
	case resolved.IsZero():
		f = append(f, fact{"Resolved", "not yet"})
	case inc.IsOpen():
		f = append(f, fact{"Resolved", st.at(resolved) + " (last checklist step)"})
	default:
		f = append(f, fact{"Resolved", st.at(resolved) + " (incident closed)"})
	}
	if !first.IsZero() && !resolved.IsZero() {
		f = append(f, fact{"Time from first capture to resolution", duration(resolved.Sub(first))})
	}
	verified, failed := 0, 0
	for _, c := range r.Captures {
		for _, cp := range c.Copies {
			switch cp.State {
			case model.CopyVerified:
				verified++
			case model.CopyPending:
			default:
				failed++
			}
		}
	}
	caps := fmt.Sprintf("%d, with %s", len(r.Captures), model.Plural(verified, "verified copy"))
	if failed > 0 {
		caps += " and " + st.strong(fmt.Sprintf("%d failed", failed))
	}
	f = append(f, fact{"Captures", caps})
	var interrupted []string
	for _, c := range r.Captures {
		if c.Partial() {
			interrupted = append(interrupted, fmt.Sprintf("%s %s — %s", c.ID, st.text(c.Title), st.text(c.Interrupted)))
		}
	}
	if len(interrupted) > 0 {
		f = append(f, fact{"Interrupted captures, partial", strings.Join(interrupted, "; ")})
	}
	switch before, during := r.MarkersAround(); {
	case len(during) > 0:
		f = append(f, fact{"Destructive commands seen", fmt.Sprintf("%d (%d before the checklist's first tick, %d during the response)", len(before)+len(during), len(before), len(during))})
	case len(before) > 0:
		f = append(f, fact{"Destructive commands seen", fmt.Sprint(len(before))})
	}
	return f
}

// cell makes text safe inside a Markdown table cell, and in a wiki that
// renders the HTML Markdown allows: a title or a command holding a tag
// shows it as text.
func cell(s string) string {
	s = clean(s)
	s = strings.ReplaceAll(s, `\`, `\\`)
	return mdHTML.Replace(strings.ReplaceAll(s, "|", `\|`))
}

var mdHTML = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func utc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// Markdown writes the postmortem draft, redacted, and says how many secrets
// it redacted.
func Markdown(r Record, red *Redactor) ([]byte, int) {
	// Each text is redacted before it is escaped for Markdown, which could
	// split a secret; the whole draft once more after.
	count := 0
	cell := func(s string) string {
		s, n := red.RedactString(s)
		count += n
		return cell(s)
	}
	var b bytes.Buffer
	inc := r.Incident
	fmt.Fprintf(&b, "# Postmortem draft: %s\n\n", cell(inc.Title))
	fmt.Fprintf(&b, "Incident `%s`. Drafted by calm from its record of the incident; all times are UTC.\n\n", inc.ID)

	b.WriteString("## Summary\n\n")
	for _, f := range summaryFacts(r, summaryStyle{text: cell, at: utc, strong: func(s string) string { return "**" + s + "**" }}) {
		fmt.Fprintf(&b, "- **%s:** %s\n", f.Label, f.Value)
	}
	b.WriteString("\n## Timeline\n\n| Time (UTC) | Event | Item | Detail |\n|---|---|---|---|\n")
	for _, row := range TimelineRows(r.Events) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", utc(row.Time), row.Kind, cell(row.Item), cell(row.Text))
	}

	if st := r.Checklist; len(st.Steps) > 0 {
		fmt.Fprintf(&b, "\n## Checklist: %s\n\n| # | Step | Done (UTC) | By | History |\n|---|---|---|---|---|\n", cell(st.Checklist.Title))
		for i, s := range st.Steps {
			done := "not done"
			if s.Done {
				done = utc(s.At)
			}
			if s.Done && s.Waited != "" {
				done += " **ticked anyway**, " + cell(s.Waited)
			}
			var hist []string
			for _, ev := range s.History {
				action := checklist.Ticked
				for _, a := range []string{checklist.TickedAnyway, checklist.Unticked} {
					if strings.HasPrefix(ev.Text, a) {
						action = a
						break
					}
				}
				hist = append(hist, action+" "+ev.Time.UTC().Format("15:04:05"))
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s |\n", i+1, cell(s.Title), done, cell(s.By), strings.Join(hist, ", "))
		}
	}

	b.WriteString("\n## Captures\n\n| ID | Title | Source | Size | SHA-256 | Copies |\n|---|---|---|---|---|---|\n")
	for _, c := range r.Captures {
		title := cell(c.Title)
		if c.Partial() {
			title += " (**interrupted**: partial)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | `%s` | %s |\n", c.ID, title, cell(c.Source), sizeCell(c), c.SHA256, copyStates(c))
	}

	if notes := r.Notes(); len(notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s: %s\n", utc(n.Time), cell(n.Text))
		}
	}
	// Left empty for the people who were there; the comments do not show
	// when the Markdown is rendered.
	b.WriteString("\n## Impact\n\n<!-- Who and what was affected, for how long; what data was lost or changed. -->\n" +
		"\n## Root cause\n\n<!-- What made the mistake possible? Blameless: how did the system let it happen? -->\n" +
		"\n## What went well\n\n<!-- What helped us recover? -->\n" +
		"\n## Action items\n\n<!-- What will we change so it cannot happen the same way again? -->\n\n" +
		"| Action | Owner | Due |\n|---|---|---|\n")
	out, n := red.Redact(b.Bytes())
	return out, count + n
}

// TeamMessage composes the message for the team: what broke, when, what was
// done, what is left to verify, and where things stand. It is redacted; the
// person edits it before it goes anywhere.
func TeamMessage(r Record, red *Redactor) ([]byte, int) {
	count := 0
	r = r.redacted(red, &count)
	var b bytes.Buffer
	inc := r.Incident
	state := "open"
	if !inc.IsOpen() {
		state = "closed " + inc.Closed.UTC().Format("15:04 UTC")
	}
	fmt.Fprintf(&b, "Incident %s: %s (%s, opened %s UTC)\n\n", inc.ID, clean(inc.Title), state, inc.Opened.UTC().Format("2006-01-02 15:04"))
	b.WriteString("What broke: " + clean(inc.Title))
	if notes := r.Notes(); len(notes) > 0 {
		b.WriteString(". " + clean(notes[0].Text))
	}
	b.WriteString("\n")
	before, during := r.MarkersAround()
	if len(before) > 0 {
		b.WriteString("When: ")
		for i, ev := range before {
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "%s UTC, %s in %s", ev.Time.UTC().Format("15:04:05"), clean(ev.Text), ev.Item)
		}
		b.WriteString("\n")
	}
	if len(during) > 0 {
		b.WriteString("Writes during the response: ")
		for i, ev := range during {
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "%s UTC, %s in %s (%s)", ev.Time.UTC().Format("15:04:05"), clean(ev.Text), ev.Item, r.stepAt(ev.Time))
		}
		b.WriteString("\n")
	}
	var done, left []string
	anyway := 0
	for _, s := range r.Checklist.Steps {
		if s.Done {
			line := fmt.Sprintf("%s (%s)", s.Title, s.At.UTC().Format("15:04"))
			if s.Waited != "" {
				// Not done as the checklist meant: the team must not read it so.
				line += " ticked anyway (was " + clean(s.Waited) + ")"
				anyway++
			}
			done = append(done, line)
		} else if !slices.Equal(s.Requires.Evidence, []string{"message"}) {
			// A step that waits for this very message is not still to do
			// in it: it is being done.
			left = append(left, s.Title)
		}
	}
	if len(done) > 0 {
		b.WriteString("Done: " + strings.Join(done, "; ") + "\n")
	}
	if len(r.Captures) > 0 {
		b.WriteString("Evidence:")
		for _, c := range r.Captures {
			sum := c.SHA256
			if len(sum) > 12 {
				sum = sum[:12]
			}
			if c.State != model.CaptureSealed {
				// No size or SHA-256 yet: "0 B, sha256 ," read as a dead, empty capture.
				fmt.Fprintf(&b, " %s %q (%s);", c.ID, clean(c.Title), clean(c.StateLine()))
				continue
			}
			fmt.Fprintf(&b, " %s %q (%s, sha256 %s, %s);", c.ID, clean(c.Title), sizeCell(c), sum, clean(c.StateLine()))
		}
		b.Truncate(b.Len() - 1)
		b.WriteString("\n")
	}
	if len(left) > 0 {
		b.WriteString("Still to do: " + strings.Join(left, "; ") + "\n")
	}
	switch st := r.Checklist; {
	case len(st.Steps) == 0:
	case st.Current < len(st.Steps):
		fmt.Fprintf(&b, "Now: step %d of %d, %s\n", st.Current+1, len(st.Steps), st.Steps[st.Current].Title)
	case anyway > 0:
		fmt.Fprintf(&b, "Now: every step of the checklist is ticked, %d of them anyway\n", anyway)
	default:
		b.WriteString("Now: every step of the checklist is done\n")
	}
	out, n := red.Redact(b.Bytes())
	return out, count + n
}

// PostWebhook posts the message to a Slack-compatible incoming webhook.
func PostWebhook(url string, text []byte) error {
	body, _ := json.Marshal(map[string]string{"text": string(text)})
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("post to the webhook: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		reply, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return fmt.Errorf("the webhook answered %s: %s", resp.Status, clean(string(reply)))
	}
	return nil
}

// TimelineRows are the postmortem's timeline: each event as it is, but a
// verify run, which records one event for each capture it read, and the
// copies a push writes, are one row each; and hints meant for the person at
// the keyboard (commands to type, tmux settings) are left out.
func TimelineRows(events []model.Event) []model.Event {
	var rows []model.Event
	for i := 0; i < len(events); {
		ev := events[i]
		j := i + 1
		if ev.Kind == model.EventVerify || ev.Kind == model.EventCopy {
			// Events carry no run of their own: a run reads each capture
			// (or writes each copy) once, so the second event for one
			// begins the next run, however close in time.
			seen := map[string]bool{runKey(ev): true}
			for j < len(events) && events[j].Kind == ev.Kind && !seen[runKey(events[j])] {
				seen[runKey(events[j])] = true
				j++
			}
		}
		if j-i > 1 {
			rows = append(rows, foldRun(events[i:j]))
		} else {
			if calmWrote[ev.Kind] {
				ev.Text = withoutHints(ev.Text)
			}
			rows = append(rows, ev)
		}
		i = j
	}
	return rows
}

// runKey is what a verify or copy event is about, which a run has once: a
// verify's capture; a copy's capture and place, "c1 copy s3://b/c1" of
// "c1 copy s3://b/c1: verified".
func runKey(ev model.Event) string {
	if ev.Kind == model.EventCopy {
		if i := strings.LastIndex(ev.Text, ": "); i >= 0 {
			return ev.Text[:i]
		}
	}
	return ev.Item
}

// foldRun makes one row of a run of verify or copy events.
func foldRun(run []model.Event) model.Event {
	row := run[0]
	var items []string
	seen := map[string]bool{}
	for _, ev := range run {
		if !seen[ev.Item] {
			seen[ev.Item] = true
			items = append(items, ev.Item)
		}
	}
	row.Item = strings.Join(items, ", ")
	if row.Kind == model.EventCopy {
		var states []string
		for _, ev := range run {
			states = append(states, strings.TrimPrefix(ev.Text, ev.Item+" "))
		}
		row.Text = fmt.Sprintf("%d copy results: %s", len(run), strings.Join(states, "; "))
		return row
	}
	match, total := 0, 0
	var bad []string
	for _, ev := range run {
		var id string
		var m, n int
		if k, _ := fmt.Sscanf(ev.Text, "%s verified: %d of %d copies match", &id, &m, &n); k != 3 {
			bad = append(bad, ev.Text)
			continue
		}
		match, total = match+m, total+n
		if m < n {
			bad = append(bad, fmt.Sprintf("%s: %d of %d match", ev.Item, m, n))
		}
	}
	row.Text = fmt.Sprintf("verified %s: %d of %d copies match", model.Plural(len(run), "capture"), match, total)
	if len(bad) > 0 {
		row.Text += "; **" + strings.Join(bad, "; ") + "**"
	}
	return row
}

var (
	// "(in tmux, needs 'set -g set-clipboard on'; terminals do not confirm)"
	hintAside = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\s*\([^()]*'[^()]*\)`) })
	// ": save it with 'calm show ID > FILE' instead", "; run 'calm verify'"
	hintClause = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`[:;,]\s*(?:pipe|save|run|use|see|add|press|type|raise)\b[^;]*'[^']*'[^;]*`)
	})
)

// calmWrote are the kinds of events whose text calm wrote; notes and
// markers are people's own words and commands, kept as they are.
var calmWrote = map[string]bool{model.EventMessage: true, model.EventStep: true, model.EventCopy: true,
	model.EventVerify: true, model.EventExport: true, model.EventCapture: true}

// withoutHints takes out of an event's text what was said to help a person
// at the keyboard then: the record keeps what happened.
func withoutHints(text string) string {
	text = hintAside().ReplaceAllString(text, "")
	return hintClause().ReplaceAllString(text, "")
}

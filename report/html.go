package report

import (
	"bytes"
	"context"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"calm/checklist"
	"calm/model"
	"calm/terminal"
)

// The page's own style and script, and the vendored asciinema-player
// (report/player/update.sh replaces it).
//
//go:embed htmlpage/page.html htmlpage/style.css htmlpage/app.js
//go:embed player/asciinema-player.min.js player/asciinema-player.css player/VERSION
var htmlFiles embed.FS

// PlayerVersion is the asciinema-player version embedded in HTML reports.
var PlayerVersion = strings.TrimSpace(mustRead("player/VERSION"))

func mustRead(name string) string {
	b, err := htmlFiles.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var pageTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page.html").Funcs(template.FuncMap{
		"bytes": humanBytes,
	}).ParseFS(htmlFiles, "htmlpage/page.html"))
})

// Limits of what the page holds itself, so that it stays a file a browser
// opens quickly and a mail server takes.
const (
	// MaxEmbeddedCast is the largest session (its asciicast after redaction)
	// the page embeds. A larger one is linked to its file in the bundle,
	// sessions/ID.cast, which `asciinema play` replays.
	MaxEmbeddedCast = 64 << 20
	// compressCastOver: casts past this size are embedded gzipped (the
	// browser's DecompressionStream opens them), smaller ones as they are.
	compressCastOver = 64 << 10
	// PreloadCastUnder: smaller sessions load with the page; larger ones
	// when first played or sought, so that reading them does not hold the
	// page up (a 50 MiB cast takes the player tens of seconds).
	PreloadCastUnder = 8 << 20
	// MaxEmbeddedCapture is how much of a capture's text the page shows:
	// past it, the first and last halves, and a link to captures/ID.txt.
	MaxEmbeddedCapture = 4 << 20
	// foldOver lines and a capture is folded: its first and last foldKeep
	// lines stay in view, the rest opens on a click.
	foldOver = 40
	foldKeep = 10
	// replayIdleLimit caps the pauses the player replays (seconds), so a
	// long quiet session replays in the time its output took.
	replayIdleLimit = 2.0
	stripBuckets    = 240
)

// HTMLOptions changes the page's limits (tests use small ones).
type HTMLOptions struct {
	MaxCast    int64 // 0: MaxEmbeddedCast
	MaxCapture int   // 0: MaxEmbeddedCapture
	Preload    int64 // 0: PreloadCastUnder
	// Redacted, when set, gives a capture's content already redacted (a
	// session as asciicast), as Content writes it: the bundle passes the
	// files it holds, so the page shows exactly them and nothing is
	// redacted twice.
	Redacted func(model.Capture) (io.ReadCloser, error)
}

// content writes a capture's redacted content, from opt.Redacted when set.
func (opt HTMLOptions) content(ctx context.Context, s model.Store, c model.Capture, w io.Writer, red *Redactor) (int, error) {
	if opt.Redacted == nil {
		return Content(ctx, s, c, w, red)
	}
	f, err := opt.Redacted(c)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return 0, err
}

type fact struct{ Label, Value string }

type htmlEvent struct {
	Index   int
	Time    string
	Kind    string
	Item    string
	Text    string
	Session int     // index into sessions, -1 when no session covers it
	At      float64 // the player's time for it, in seconds
}

type htmlStep struct {
	N       int
	Title   string
	Done    string
	By      string
	History string
}

type htmlItem struct {
	ID, Title, Source, Size, SHA256, Copies, Anchor string
}

type htmlSession struct {
	Index              int
	ID, Title, Command string
	Where              string
	Cols, Rows         int
	Start, Duration    string
	Size               int64
	Embedded           bool
	Link               string
	Get                string // outside a bundle: the command that gets the whole session
	SHA256             string
	start              time.Time
	real               float64 // its length, seconds
	gaps               []idleGap
	data               []byte // the cast, base64 (of its gzip when gzipped)
	gzipped            bool
	markers            [][2]any
	rows, cols         int
}

type htmlCapture struct {
	ID, Title, Source, Size, SHA256, Copies string
	Lines                                   int
	Head, Middle, Tail                      []template.HTML
	Hidden                                  int  // lines left out of the page
	LineCut                                 bool // the middle of a line longer than the page's part is left out
	Link                                    string
	Get                                     string // outside a bundle: the command that gets the whole capture
}

type htmlPage struct {
	Title, ID      string
	Opened         string
	Summary        []fact
	Strip          template.HTML
	Timeline       []htmlEvent
	ChecklistTitle string
	Steps          []htmlStep
	Items          []htmlItem
	Sessions       []*htmlSession
	Captures       []htmlCapture
	Notes          []fact
	TeamMessage    string
	CSS, PlayerCSS template.CSS
	PlayerJS       template.JS
	AppJS          template.JS
	Config         template.JS
	PlayerVersion  string
	Generated      string
	Casts          []castBlob
}

type castBlob struct {
	Index    int
	Encoding string
	Data     template.HTML // base64: inert text
}

// HTML writes the incident as one self-contained page: the postmortem's
// summary, timeline, checklist, notes, team message and captures, each
// session in an embedded asciinema-player, and the activity chart. Every
// text is redacted as in the other exports. It returns how many secrets it
// redacted.
func HTML(ctx context.Context, s model.Store, r Record, w io.Writer, red *Redactor, now time.Time, opt HTMLOptions) (int, error) {
	if opt.MaxCast <= 0 {
		opt.MaxCast = MaxEmbeddedCast
	}
	if opt.MaxCapture <= 0 {
		opt.MaxCapture = MaxEmbeddedCapture
	}
	if opt.Preload <= 0 {
		opt.Preload = PreloadCastUnder
	}
	count := 0
	str := func(s string) string {
		out, n := red.Redact([]byte(s))
		count += n
		return clean(string(out))
	}
	rec := r.redacted(red, &count)
	inc := rec.Incident
	page := &htmlPage{
		Title:         clean(inc.Title),
		ID:            inc.ID,
		Opened:        utc(inc.Opened),
		PlayerVersion: PlayerVersion,
		Generated:     utc(now),
		CSS:           template.CSS(mustRead("htmlpage/style.css")),
		PlayerCSS:     template.CSS(mustRead("player/asciinema-player.css")),
		PlayerJS:      template.JS(mustRead("player/asciinema-player.min.js")),
		AppJS:         template.JS(mustRead("htmlpage/app.js")),
	}
	page.Summary = summaryFacts(rec, summaryStyle{
		text:   clean,
		at:     func(t time.Time) string { return utc(t) + " UTC" },
		strong: func(s string) string { return s },
	})

	from, to := ActivitySpan(inc, r.Captures, r.Events, time.Time{})
	act := NewActivity(from, to, stripBuckets)
	sessionOf := map[string]int{}
	for i, c := range r.Captures {
		rc := rec.Captures[i]
		page.Items = append(page.Items, htmlItem{
			ID: c.ID, Title: clean(rc.Title), Source: clean(c.Source), Size: humanBytes(c.Size),
			SHA256: c.SHA256, Copies: pageStates(c), Anchor: "item-" + c.ID,
		})
		if c.Recording == nil {
			act.AddOutput(c.Created, c.Size)
			hc, n, err := captureText(ctx, s, c, red, opt)
			count += n
			if err != nil {
				return count, fmt.Errorf("read %s: %w", c.ID, err)
			}
			hc.Title, hc.Copies = clean(rc.Title), pageStates(c)
			page.Captures = append(page.Captures, hc)
			continue
		}
		hs, n, err := sessionCast(ctx, s, c, red, opt, act)
		count += n
		if err != nil {
			return count, fmt.Errorf("read %s: %w", c.ID, err)
		}
		hs.Index, hs.Title = len(page.Sessions), clean(rc.Title)
		hs.Command = str(c.Recording.Command)
		hs.Where = str(strings.Trim(c.Recording.User+"@"+c.Recording.Host, "@"))
		sessionOf[c.ID] = hs.Index
		page.Sessions = append(page.Sessions, hs)
	}
	act.AddEvents(r.Events)
	page.Strip = activitySVG(act, rec.Events)

	captureSession := map[string]string{}
	for _, c := range r.Captures {
		if c.Session != "" {
			captureSession[c.ID] = c.Session
		}
	}
	// In time order; ids stay the events' indexes, which the strip links to.
	order := make([]int, len(rec.Events))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rec.Events[order[a]].Time.Before(rec.Events[order[b]].Time) })
	for _, i := range order {
		ev := rec.Events[i]
		he := htmlEvent{Index: i, Time: utc(ev.Time), Kind: ev.Kind, Item: ev.Item, Text: clean(ev.Text), Session: -1}
		if strings.HasPrefix(he.Text, he.Item+" ") {
			he.Item = "" // "c1 saved: ..." names it already
		}
		var offset float64
		he.Session, offset = placeEvent(ev, page.Sessions, sessionOf, captureSession)
		// Events during the recording are also marked on its progress bar;
		// one before or after it (a capture saved at its end) seeks there.
		if he.Session >= 0 {
			hs := page.Sessions[he.Session]
			he.At = math.Round(hs.playerTime(offset)*1000) / 1000
			if offset < 0 || offset >= hs.real {
				page.Timeline = append(page.Timeline, he)
				continue
			}
			label := ev.Time.UTC().Format("15:04:05") + " " + ev.Kind
			if he.Text != "" {
				label += ": " + he.Text
			}
			hs.markers = append(hs.markers, [2]any{he.At, label})
		}
		page.Timeline = append(page.Timeline, he)
	}

	if st := r.Checklist; len(st.Steps) > 0 {
		page.ChecklistTitle = str(st.Checklist.Title)
		for i, s := range st.Steps {
			done := "not done"
			if s.Done {
				done = utc(s.At)
				if s.Waited != "" {
					done += ", ticked anyway (was " + str(s.Waited) + ")"
				}
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
			page.Steps = append(page.Steps, htmlStep{N: i + 1, Title: str(s.Title), Done: done, By: str(s.By), History: strings.Join(hist, ", ")})
		}
	}
	for _, n := range rec.Notes() {
		page.Notes = append(page.Notes, fact{utc(n.Time), clean(n.Text)})
	}
	msg, n := TeamMessage(r, red)
	count += n
	page.TeamMessage = string(msg)

	type sessionConfig struct {
		ID       string   `json:"id"`
		Embedded bool     `json:"embedded"`
		Preload  bool     `json:"preload"`
		Markers  [][2]any `json:"markers"`
		Cols     int      `json:"cols,omitempty"`
		Rows     int      `json:"rows,omitempty"`
	}
	config := struct {
		IdleTimeLimit float64         `json:"idleTimeLimit"`
		Sessions      []sessionConfig `json:"sessions"`
	}{IdleTimeLimit: replayIdleLimit, Sessions: []sessionConfig{}}
	for _, hs := range page.Sessions {
		// The player merges its markers into the events in one pass.
		sort.SliceStable(hs.markers, func(i, j int) bool { return hs.markers[i][0].(float64) < hs.markers[j][0].(float64) })
		config.Sessions = append(config.Sessions, sessionConfig{hs.ID, hs.Embedded, hs.Size < opt.Preload, hs.markers, hs.cols, hs.rows})
		if hs.Embedded {
			enc := ""
			if hs.gzipped {
				enc = "gzip"
			}
			page.Casts = append(page.Casts, castBlob{hs.Index, enc, template.HTML(hs.data)})
		}
	}
	// json.Marshal escapes <, > and &, so the labels cannot end the script.
	cfg, err := json.Marshal(config)
	if err != nil {
		return count, err
	}
	page.Config = template.JS(cfg)
	if err := pageTemplate().Execute(w, page); err != nil {
		return count, fmt.Errorf("write the page: %w", err)
	}
	return count, nil
}

// idleGap is a pause longer than the replay's idle limit: the player
// shortens it, so times after it move earlier by the excess.
type idleGap struct {
	from, to float64 // seconds into the recording
	shift    float64 // how much earlier the player is at from
}

// playerTime maps a time in the recording to the player's (idle-limited)
// clock, as asciinema-player's own limiter does.
func (hs *htmlSession) playerTime(t float64) float64 {
	t = min(max(t, 0), hs.real)
	i := sort.Search(len(hs.gaps), func(i int) bool { return hs.gaps[i].from > t }) - 1
	if i < 0 {
		return t
	}
	g := hs.gaps[i]
	if t < g.to {
		return g.from - g.shift + min(t-g.from, replayIdleLimit)
	}
	return t - g.shift - (g.to - g.from - replayIdleLimit)
}

// placeEvent finds the session an event happened in and how far into its
// recording (seconds): a marker's own place in its session, an event about
// a session or a capture taken in one, else the session recording then.
func placeEvent(ev model.Event, sessions []*htmlSession, sessionOf map[string]int, captureSession map[string]string) (int, float64) {
	if i, ok := sessionOf[ev.Item]; ok {
		if ev.Kind == model.EventMarker {
			return i, ev.At
		}
		return i, ev.Time.Sub(sessions[i].start).Seconds()
	}
	if sid, ok := captureSession[ev.Item]; ok {
		if i, ok := sessionOf[sid]; ok {
			return i, ev.Time.Sub(sessions[i].start).Seconds()
		}
	}
	best := -1
	for i, hs := range sessions {
		off := ev.Time.Sub(hs.start).Seconds()
		if off >= 0 && off <= hs.real+1 && (best < 0 || hs.start.After(sessions[best].start)) {
			best = i
		}
	}
	if best < 0 {
		return -1, 0
	}
	return best, ev.Time.Sub(sessions[best].start).Seconds()
}

// sessionCast reads a session as a redacted asciicast, adds its output to
// the activity chart, learns its length and pauses, and keeps it (gzipped
// when large) unless it is over the limit.
func sessionCast(ctx context.Context, s model.Store, c model.Capture, red *Redactor, opt HTMLOptions, act *Activity) (*htmlSession, int, error) {
	limit := opt.MaxCast
	hs := &htmlSession{ID: c.ID, Size: 0, start: c.Created, SHA256: c.SHA256, Start: utc(c.Created)}
	if c.Recording != nil {
		hs.Cols, hs.Rows = c.Recording.Cols, c.Recording.Rows
	}
	var raw bytes.Buffer
	var pack *packer
	over := false
	last := 0.0
	cr := &terminal.CastReader{
		Header: func(h terminal.Header) {
			if h.Width > 0 && h.Height > 0 {
				hs.cols, hs.rows = h.Width, h.Height
			}
		},
		Event: func(at float64, kind, data string) {
			if gap := at - last; gap > replayIdleLimit {
				shift := 0.0
				if n := len(hs.gaps); n > 0 {
					g := hs.gaps[n-1]
					shift = g.shift + (g.to - g.from - replayIdleLimit)
				}
				hs.gaps = append(hs.gaps, idleGap{from: last, to: at, shift: shift})
			}
			last = max(last, at)
			if kind == "o" {
				act.AddOutput(c.Created.Add(time.Duration(at*float64(time.Second))), int64(len(data)))
			}
		},
	}
	sink := writerFunc(func(p []byte) (int, error) {
		cr.Write(p)
		hs.Size += int64(len(p))
		switch {
		case over:
		case hs.Size > limit:
			over = true
			raw.Reset()
			if pack != nil {
				pack.finish()
				pack = nil
			}
		case pack != nil:
			pack.write(p)
		case int64(raw.Len()+len(p)) > compressCastOver:
			pack = newPacker()
			pack.write(raw.Bytes())
			pack.write(p)
			raw.Reset()
		default:
			raw.Write(p)
		}
		return len(p), nil
	})
	n, err := opt.content(ctx, s, c, sink, red)
	if err != nil {
		if pack != nil {
			pack.finish()
		}
		return nil, n, err
	}
	cr.Close()
	hs.real = last
	hs.Duration = duration(time.Duration(last * float64(time.Second)))
	switch {
	case over:
		hs.Link = "sessions/" + c.ID + ".cast"
		if opt.Redacted == nil { // a page on its own: no bundle beside it
			hs.Get = "calm export " + c.Incident + " --format cast --item " + c.ID + " -o " + c.ID + ".cast"
		}
	case pack != nil:
		hs.Embedded, hs.gzipped, hs.data = true, true, pack.finish()
	default:
		hs.Embedded, hs.data = true, []byte(base64.StdEncoding.EncodeToString(raw.Bytes()))
	}
	return hs, n, nil
}

// packer gzips and base64-encodes a cast on a goroutine of its own, so the
// compression runs beside the reading, redaction and parsing.
type packer struct {
	chunks chan []byte
	done   chan struct{}
	out    bytes.Buffer
}

func newPacker() *packer {
	p := &packer{chunks: make(chan []byte, 8), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		b64 := base64.NewEncoder(base64.StdEncoding, &p.out)
		gz, _ := gzip.NewWriterLevel(b64, gzip.DefaultCompression)
		for c := range p.chunks {
			gz.Write(c) // into memory: it cannot fail
		}
		gz.Close()
		b64.Close()
	}()
	return p
}

// write hands over a copy: the caller's buffer is reused.
func (p *packer) write(b []byte) { p.chunks <- bytes.Clone(b) }

// finish waits for the compression to end and returns the base64 text.
func (p *packer) finish() []byte {
	close(p.chunks)
	<-p.done
	return p.out.Bytes()
}

// pageStates is copyStates without Markdown's emphasis.
func pageStates(c model.Capture) string {
	return strings.ReplaceAll(copyStates(c), "**", "")
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// longLine is how much of a line cut by a part's edge the page keeps
// rather than leave the whole line out.
const longLine = 64 << 10

// captureText reads a capture, redacted, as HTML lines, folded when long
// and cut to its first and last parts past limit bytes.
func captureText(ctx context.Context, s model.Store, c model.Capture, red *Redactor, opt HTMLOptions) (htmlCapture, int, error) {
	limit := opt.MaxCapture
	hc := htmlCapture{ID: c.ID, Source: clean(c.Source), Size: humanBytes(c.Size), SHA256: c.SHA256}
	ht := &headTail{half: limit / 2}
	n, err := opt.content(ctx, s, c, ht, red)
	if err != nil {
		return hc, n, err
	}
	ht.parts()
	head := htmlLines(ht.head)
	var tail []string
	if ht.cut {
		// Each part ends and starts on a whole line, unless that would
		// leave out most of a line longer than the part: then its start
		// (and its end) are shown, and the page says its middle is not.
		cutHead, cutTail := false, false
		if i := bytes.LastIndexByte(ht.head, '\n'); i >= 0 && len(ht.head)-i-1 < longLine {
			head = htmlLines(ht.head[:i+1])
		} else {
			cutHead = true
		}
		t := ht.tail
		if i := bytes.IndexByte(t, '\n'); i >= 0 && i < longLine {
			t = t[i+1:]
		} else {
			cutTail = true
		}
		tail = htmlLines(t)
		hc.Lines = ht.lines
		if len(ht.tail) > 0 && ht.tail[len(ht.tail)-1] != '\n' {
			hc.Lines++
		}
		shown := len(head) + len(tail)
		if cutHead && cutTail && ht.lines-bytes.Count(ht.head, []byte("\n"))-bytes.Count(ht.tail, []byte("\n")) <= 0 {
			shown-- // one line, its start in the head and its end in the tail
		}
		hc.Hidden = max(hc.Lines-shown, 0)
		hc.LineCut = cutHead || cutTail
		hc.Link = "captures/" + c.ID + ".txt"
		if opt.Redacted == nil {
			hc.Get = "calm show " + c.Incident + "/" + c.ID
		}
	} else {
		hc.Lines = len(head)
	}
	safe := func(lines []string) []template.HTML {
		out := make([]template.HTML, len(lines))
		for i, l := range lines {
			out[i] = template.HTML(l) // built by htmlLines from escaped text
		}
		return out
	}
	all := append(head, tail...)
	switch {
	case ht.cut:
		hc.Head, hc.Tail = safe(head), safe(tail)
	case len(all) > foldOver:
		hc.Head, hc.Middle, hc.Tail = safe(all[:foldKeep]), safe(all[foldKeep:len(all)-foldKeep]), safe(all[len(all)-foldKeep:])
	default:
		hc.Head = safe(all)
	}
	return hc, n, nil
}

// headTail keeps a stream whole up to 2*half bytes, else its first and last
// half, counting its lines.
type headTail struct {
	half       int
	head, tail []byte
	lines      int
	cut        bool
}

// parts returns the first half and the last half once every byte is
// written (Write keeps up to twice a half of the end, to copy less).
func (h *headTail) parts() (head, tail []byte) {
	if len(h.tail) > h.half {
		h.tail = h.tail[len(h.tail)-h.half:]
	}
	return h.head, h.tail
}

func (h *headTail) Write(p []byte) (int, error) {
	h.lines += bytes.Count(p, []byte{'\n'})
	if !h.cut {
		if len(h.head)+len(p) <= 2*h.half {
			h.head = append(h.head, p...)
			return len(p), nil
		}
		h.cut = true
		all := append(h.head, p...)
		h.head = append([]byte(nil), all[:h.half]...)
		h.tail = append(h.tail, all[h.half:]...)
	} else {
		h.tail = append(h.tail, p...)
	}
	if len(h.tail) > 2*h.half {
		h.tail = h.tail[:copy(h.tail, h.tail[len(h.tail)-h.half:])]
	}
	return len(p), nil
}

// activitySVG draws the activity strip: output volume as bars, and under
// them the destructive markers, captures, ticks and other events; each mark
// links to its event in the timeline.
func activitySVG(a *Activity, events []model.Event) template.HTML {
	const barH, rowY, h = 60, 74, 96
	w := len(a.Buckets)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="strip" viewBox="0 0 %d %d" preserveAspectRatio="none" role="img" aria-label="Output volume and events over the incident's time">`, w*4, h)
	fmt.Fprintf(&b, `<line class="axis" x1="0" y1="%d" x2="%d" y2="%d"/>`, barH, w*4, barH)
	peak := a.Peak()
	for i, bk := range a.Buckets {
		if bk.Bytes > 0 && peak > 0 {
			bh := max(float64(bk.Bytes)*float64(barH-2)/float64(peak), 1)
			fmt.Fprintf(&b, `<rect class="vol" x="%d" y="%.1f" width="4" height="%.1f"><title>%s: %s of output</title></rect>`,
				i*4, float64(barH)-bh, bh, a.From.Add(time.Duration(i)*a.Step).UTC().Format("15:04:05"), humanBytes(bk.Bytes))
		}
		if len(bk.Events) == 0 {
			continue
		}
		var titles []string
		for _, e := range bk.Events {
			ev := events[e]
			titles = append(titles, ev.Time.UTC().Format("15:04:05")+" "+ev.Kind+" "+clean(ev.Text))
		}
		class, shape := "ev-other", fmt.Sprintf(`<circle cx="%d" cy="%d" r="2"/>`, i*4+2, rowY)
		switch {
		case bk.Marker:
			class, shape = "ev-marker", fmt.Sprintf(`<path d="M%d %dl4 8h-8z"/><line x1="%d" y1="0" x2="%d" y2="%d"/>`, i*4+2, rowY-5, i*4+2, i*4+2, barH)
		case bk.Capture:
			class, shape = "ev-capture", fmt.Sprintf(`<circle cx="%d" cy="%d" r="4"/>`, i*4+2, rowY)
		case bk.Step:
			class, shape = "ev-step", fmt.Sprintf(`<path d="M%d %dl3 3l5 -7"/>`, i*4-1, rowY)
		}
		fmt.Fprintf(&b, `<a href="#ev-%d" class="%s"><title>%s</title>%s</a>`, bk.Events[0], class, html.EscapeString(strings.Join(titles, "\n")), shape)
	}
	for k := 0; k <= 4; k++ {
		x := k * w * 4 / 4
		anchor := "middle"
		switch k {
		case 0:
			anchor = "start"
		case 4:
			anchor = "end"
		}
		t := a.From.Add(time.Duration(float64(a.Step) * float64(len(a.Buckets)) * float64(k) / 4))
		fmt.Fprintf(&b, `<line class="tick" x1="%d" y1="%d" x2="%d" y2="%d"/><text x="%d" y="%d" text-anchor="%s">%s</text>`,
			x, barH, x, barH+4, x, h-2, anchor, t.UTC().Format("15:04:05"))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

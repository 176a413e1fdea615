package report

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"calm/checklist"
	"calm/model"
	"calm/storage"
)

// htmlSecrets are realistic secrets of each kind the redactor knows, with
// the part that must never reach the page.
var htmlSecrets = []struct{ text, secret string }{
	{"export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"},
	{"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
	{"?key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY&x=1", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"},
	{"GITHUB_TOKEN=ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"},
	{"SLACK=xoxb-2222222222-4444444444444-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-2222222222-4444444444444-AbCdEfGhIjKlMnOpQrStUvWx"},
	{"sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
	{"cookie: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"},
	{"curl -H 'Authorization: Bearer 9f8e7d6c5b4a3f2e1d0c' https://api", "9f8e7d6c5b4a3f2e1d0c"},
	{"mongodb://admin:s3cr3t-Pa55@db1.prod:27017/users", "s3cr3t-Pa55"},
	{"PGPASSWORD=hunter2 psql", "hunter2"},
}

// htmlIncident records an incident with what the page must show: a short
// coloured session with a destructive marker, a session large enough to be
// gzipped with a long pause before its marker, a coloured capture and a long
// one, notes and ticks, and a secret of every kind somewhere in it.
func htmlIncident(t testing.TB) (*storage.DB, Record) {
	t.Helper()
	dir := t.TempDir()
	clk := &clock{t: time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)}
	db, err := storage.Open(storage.Options{Path: filepath.Join(dir, "calm.db"), EvidenceDir: filepath.Join(dir, "evidence"), Now: clk.now, StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	inc, _ := db.NewIncident("users collection replaced <script>alert(1)</script> token=abc123def")
	var cast strings.Builder
	cast.WriteString(`{"version": 2, "width": 80, "height": 24, "timestamp": 1795701600}` + "\n")
	line := func(at float64, data string) {
		q, _ := json.Marshal(data)
		fmt.Fprintf(&cast, "[%.3f, \"o\", %s]\n", at, q)
	}
	line(0.2, "$ mongo mongodb://admin:s3cr3t-Pa55@db1.prod:27017/users\r\n")
	line(0.8, "\x1b[32mconnected\x1b[0m \x1b]0;evil title\x07to db1\r\n")
	line(1.6, "> db.users.replaceOne({_id: 1}, {name: \"Ada\"})\r\n")
	line(2.0, "\x1b[1;31m{ \"acknowledged\" : true, \"modifiedCount\" : 1 }\x1b[0m\r\n")
	for i, s := range htmlSecrets {
		line(2.1+float64(i)*0.05, s.text+"\r\n")
	}
	line(6.0, "$ exit\r\n")
	s1 := save(t, db, model.NewCapture{Title: "bash on db1", Source: model.SourceSession, Recording: &model.Recording{Command: "bash -c 'PGPASSWORD=hunter2 bash'", User: "ada", Host: "db1", Cols: 80, Rows: 24}}, cast.String())
	db.AddMarker(inc.ID, s1.ID, "replaceOne (Mongo)", 1.5)

	cast.Reset()
	cast.WriteString(`{"version": 2, "width": 100, "height": 30, "timestamp": 1795701700}` + "\n")
	for i := range 2000 {
		line(float64(i)*0.0005, fmt.Sprintf("%05d \x1b[36mINFO\x1b[0m request id=%d path=/api/v1/users status=200\r\n", i, i*7919))
	}
	line(31.0, "$ db.orders.deleteMany({})\r\n")
	line(31.5, "{ \"deletedCount\" : 12 }\r\n")
	line(33.0, "$ \r\n")
	s2 := save(t, db, model.NewCapture{Title: "tail of the api log", Source: model.SourceSession, Recording: &model.Recording{Command: "tail -f api.log", Cols: 100, Rows: 30}}, cast.String())
	db.AddMarker(inc.ID, s2.ID, "deleteMany (Mongo)", 31.2)

	var colored strings.Builder
	colored.WriteString("\x1b[1m{\x1b[0m\n  \x1b[34;1m\"_id\"\x1b[0m: \x1b[0;32m1\x1b[0m,\n  \x1b[38;5;208m\"name\"\x1b[0m: \x1b[38;2;10;200;30m\"Ada\"\x1b[0m\n\x1b[1m}\x1b[0m\n")
	for _, s := range htmlSecrets {
		colored.WriteString(s.text + "\n")
	}
	colored.WriteString("progress 10%\rprogress 100%\n\x1b]52;c;ZXZpbA==\x07clipboard untouched\n")
	save(t, db, model.NewCapture{Title: "find before", Source: "snap", Session: s1.ID}, colored.String())
	var long strings.Builder
	for i := 1; i <= 120; i++ {
		fmt.Fprintf(&long, "line %03d of the scrollback\n", i)
	}
	save(t, db, model.NewCapture{Title: "whole scrollback", Source: "snap"}, long.String())
	db.AddNote(inc.ID, "replaceOne without $set replaced user 1; password: hunter2")
	c, _ := checklist.Find(checklist.Builtin(), "overwrite")
	for i, s := range c.Steps[:3] {
		db.AddEvent(inc.ID, model.EventStep, s.ID, checklist.StepText(checklist.Ticked, s.Title, "ada@db1"))
		if i == 1 {
			db.AddEvent(inc.ID, model.EventStep, s.ID, checklist.StepText(checklist.Unticked, s.Title, "ada@db1"))
		}
	}
	r, err := Load(db, inc.ID, checklist.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	return db, r
}

func exportHTML(t testing.TB, db model.Store, r Record, opt HTMLOptions) (string, int) {
	t.Helper()
	red, _ := NewRedactor(nil)
	var b bytes.Buffer
	n, err := HTML(context.Background(), db, r, &b, red, time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC), opt)
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), n
}

// withoutCode is the page without its scripts and styles.
func withoutCode(page string) string {
	return regexp.MustCompile(`(?s)<script[^>]*>.*?</script>|<style>.*?</style>`).ReplaceAllString(page, "")
}

// htmlCastOf decodes session i's embedded cast as the page's script does.
func htmlCastOf(t *testing.T, page string, i int) (string, string) {
	t.Helper()
	m := regexp.MustCompile(`<script type="application/octet-stream" id="cast-` + strconv.Itoa(i) + `" data-encoding="([a-z]*)">([^<]*)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("session %d is not embedded", i)
	}
	raw, err := base64.StdEncoding.DecodeString(m[2])
	if err != nil {
		t.Fatal(err)
	}
	if m[1] == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		raw, err = io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
	}
	return m[1], string(raw)
}

func TestHTMLHoldsThePostmortemRedacted(t *testing.T) {
	db, r := htmlIncident(t)
	page, n := exportHTML(t, db, r, HTMLOptions{})
	for _, want := range []string{
		"<h2>Summary</h2>", "What happened", "First capture", "<h2>Timeline</h2>", "Checklist: ", "Stop and breathe",
		"unticked", "Team message", "What broke: users collection", "password: [REDACTED password]",
		r.Captures[2].SHA256, r.Captures[0].SHA256, `<svg class="strip"`, "replaceOne (Mongo)",
		"AsciinemaPlayer", "Content-Security-Policy", "token=[REDACTED password]",
		// colours as classes, 256 and 24-bit colours inline
		`<span class="f4 bold">&#34;_id&#34;</span>`, `<span class="f2">1</span>`, `style="color:#ff8700"`, `style="color:#0ac81e"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>alert(1)") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the title reached the page as markup")
	}
	// Escapes are gone from the captures: no OSC, no ESC, and the carriage
	// return kept what the terminal showed.
	markup := withoutCode(page)
	if strings.Contains(markup, "\x1b") || strings.Contains(page, "ZXZpbA==") || strings.Contains(page, "\x07") {
		t.Error("an escape sequence reached the page")
	}
	if !strings.Contains(page, "progress 100%") || strings.Contains(page, "progress 10%progress") {
		t.Error("a carriage return was not applied")
	}
	for i := range 2 {
		_, cast := htmlCastOf(t, page, i)
		for _, s := range htmlSecrets {
			if strings.Contains(cast, s.secret) {
				t.Errorf("session %d's cast holds %q", i, s.secret)
			}
		}
	}
	for _, s := range htmlSecrets {
		if strings.Contains(page, s.secret) {
			t.Errorf("the page holds %q", s.secret)
		}
	}
	if n < 2*len(htmlSecrets) {
		t.Errorf("redacted %d secrets", n)
	}
	// Nothing is loaded from anywhere: no src or href that is not a fragment
	// or a file of the bundle.
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(markup, -1) {
		if !strings.HasPrefix(m[1], "#") {
			t.Errorf("the page refers to %q", m[1])
		}
	}
}

func TestHTMLEmbedsSmallCastsPlainLargeOnesGzippedAndLinksPastTheLimit(t *testing.T) {
	db, r := htmlIncident(t)
	page, _ := exportHTML(t, db, r, HTMLOptions{})
	enc, cast := htmlCastOf(t, page, 0)
	if enc != "" || !strings.HasPrefix(cast, `{"version":2,"width":80`) || !strings.Contains(cast, "[REDACTED url password]") {
		t.Fatalf("short session: encoding %q, cast %.200q", enc, cast)
	}
	enc, cast = htmlCastOf(t, page, 1)
	if enc != "gzip" || !strings.Contains(cast, "01999 ") || !strings.Contains(cast, "deleteMany") {
		t.Fatalf("large session: encoding %q", enc)
	}
	// Past the limit the session is linked to its file in the bundle; a
	// page on its own, with no bundle beside it, gives the command instead.
	page, _ = exportHTML(t, db, r, HTMLOptions{MaxCast: 64 << 10, Redacted: redactedFrom(db)})
	if strings.Contains(page, `id="cast-1"`) || !strings.Contains(page, `<a href="sessions/s2.cast">sessions/s2.cast</a>`) {
		t.Fatal("the session over the limit is not linked")
	}
	htmlCastOf(t, page, 0)
	page, _ = exportHTML(t, db, r, HTMLOptions{MaxCast: 64 << 10})
	if strings.Contains(page, `href="sessions/`) || !strings.Contains(page, "<code>calm export "+r.Incident.ID+" --format cast --item s2 -o s2.cast</code>") {
		t.Fatal("the page on its own links a bundle's file or does not say how to get the session")
	}
}

// redactedFrom gives captures redacted, as a bundle passes its files.
func redactedFrom(db model.Store) func(model.Capture) (io.ReadCloser, error) {
	red, _ := NewRedactor(nil)
	return func(c model.Capture) (io.ReadCloser, error) {
		var b bytes.Buffer
		_, err := Content(context.Background(), db, c, &b, red)
		return io.NopCloser(&b), err
	}
}

func TestHTMLTimelineSeeksToTheReplayedMoment(t *testing.T) {
	db, r := htmlIncident(t)
	page, _ := exportHTML(t, db, r, HTMLOptions{})
	seek := regexp.MustCompile(`<li id="ev-\d+" class="ev k-marker" data-session="(\d)" data-t="([0-9.]+)">.*?<span class="detail">([^<]*)</span>`)
	got := map[string][2]string{}
	for _, m := range seek.FindAllStringSubmatch(page, -1) {
		got[m[3]] = [2]string{m[1], m[2]}
	}
	// The first marker is 1.5 s in; the second 31.2 s in, after a 30 s pause
	// that the replay shortens to 2 s: 3.2 s on the player's clock.
	if got["replaceOne (Mongo)"] != [2]string{"0", "1.500"} || got["deleteMany (Mongo)"] != [2]string{"1", "3.200"} {
		t.Fatalf("marker seeks: %v", got)
	}
	// The capture taken in s1 seeks s1; the notes and ticks of a session
	// long over seek nothing.
	if !regexp.MustCompile(`class="ev k-capture" data-session="0" data-t="[0-9.]+"><time>[^<]*</time> <span class="kind">capture</span> <span class="detail">c1 saved`).MatchString(page) {
		t.Error("the capture taken in s1 does not seek s1")
	}
	if !regexp.MustCompile(`class="ev k-note"><time>`).MatchString(page) {
		t.Error("a note outside every session seeks one")
	}
	// The player's markers carry the same times.
	if !strings.Contains(page, `"markers":[[`) || !strings.Contains(page, `[3.2,"`) {
		t.Error("the player's markers are missing")
	}
}

func TestPlayerTimeFollowsTheIdleLimit(t *testing.T) {
	hs := &htmlSession{real: 40, gaps: []idleGap{{from: 1, to: 31, shift: 0}, {from: 32, to: 40, shift: 28}}}
	for _, c := range []struct{ in, want float64 }{{0.5, 0.5}, {1, 1}, {2, 2}, {3, 3}, {20, 3}, {31, 3}, {31.2, 3.2}, {32, 4}, {35, 6}, {40, 6}, {99, 6}} {
		if got := hs.playerTime(c.in); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("playerTime(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestHTMLFoldsLongCapturesAndCutsHugeOnes(t *testing.T) {
	db, r := htmlIncident(t)
	page, _ := exportHTML(t, db, r, HTMLOptions{})
	if !strings.Contains(page, "<summary>100 more lines (120 in all)</summary>") ||
		!strings.Contains(page, "line 010 of the scrollback\n</pre>") && !strings.Contains(page, "line 010 of the scrollback</pre>") {
		t.Fatal("the long capture is not folded to its first and last lines")
	}
	// Past the size limit only the first and last parts are in the page.
	inBundle, _ := exportHTML(t, db, r, HTMLOptions{MaxCapture: 1000, Redacted: redactedFrom(db)})
	if !regexp.MustCompile(`… \d+ lines? (?:is|are) not in this page: the whole capture is <a href="captures/c2.txt">`).MatchString(inBundle) {
		t.Fatal("the huge capture in a bundle's page is not linked to its file")
	}
	page, _ = exportHTML(t, db, r, HTMLOptions{MaxCapture: 1000})
	m := regexp.MustCompile(`… (\d+) lines? (?:is|are) not in this page: <code>calm show ` + r.Incident.ID + `/c2</code> prints the whole capture`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the huge capture is not cut, or the page on its own does not say how to get it")
	}
	shown := strings.Count(page, " of the scrollback")
	if hidden, _ := strconv.Atoi(m[1]); hidden+shown != 120 || shown == 0 {
		t.Fatalf("%d lines hidden and %d shown of 120", hidden, shown)
	}
	if line := len("line 001 of the scrollback\n"); shown*line > 1000+2*line {
		t.Fatalf("%d lines of %d bytes shown, over the 1000 bytes the page may hold", shown, line)
	}
	if !strings.Contains(page, "120 lines") || !strings.Contains(page, "line 001 ") || !strings.Contains(page, "line 120 ") {
		t.Fatal("the cut capture lost its count, first or last line")
	}
}

// TestHeadTailKeepsTheLastHalf: written in pieces, as a store hands out a
// capture, the end kept up to twice its half: a 5 MiB capture showed all
// but one line where the page promises its first and last 2 MiB.
func TestHeadTailKeepsTheLastHalf(t *testing.T) {
	ht := &headTail{half: 500}
	var all []byte
	for i := range 10 {
		p := bytes.Repeat([]byte{byte('a' + i)}, 300)
		all = append(all, p...)
		ht.Write(p)
	}
	head, tail := ht.parts()
	if !ht.cut || !bytes.Equal(head, all[:500]) || !bytes.Equal(tail, all[len(all)-500:]) {
		t.Fatalf("kept %d bytes of head and %d of tail of 3000, want the first 500 and the last 500", len(head), len(tail))
	}
}

func TestHTMLLinesNeutraliseEveryEscape(t *testing.T) {
	in := "a\x1b[31mred\x1b[0m\x1b]52;c;ZXZpbA==\x07b\x1b[2Jc\x1bPq#0\x1b\\d\u009b31m\ne\x1b[7minv\x1b[38;5;16;48;5;231mx\n"
	got := strings.Join(htmlLines([]byte(in)), "\n")
	want := `a<span class="f1">red</span>bcd` + "\n" + `e<span class="inv">inv</span><span class="inv" style="color:#ffffff;background-color:#000000">x</span>`
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestHTMLOfAnIncidentWithNoSessionNorChecklist(t *testing.T) {
	dir := t.TempDir()
	db, err := storage.Open(storage.Options{Path: filepath.Join(dir, "calm.db"), EvidenceDir: filepath.Join(dir, "evidence")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inc, _ := db.NewIncident("disk full on db2")
	save(t, db, model.NewCapture{Title: "df -h", Source: "tee"}, "/dev/sda1 100%\n")
	r, err := Load(db, inc.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := exportHTML(t, db, r, HTMLOptions{})
	if !strings.Contains(page, "/dev/sda1 100%") || strings.Contains(page, `id="sessions"`) || strings.Contains(page, `id="checklist"`) ||
		!strings.Contains(page, `{"idleTimeLimit":2,"sessions":[]}`) {
		t.Fatal("a page without sessions or checklist is wrong")
	}
}

func TestHTMLTimelineIsInTimeOrder(t *testing.T) {
	db, r := htmlIncident(t)
	for i, j := 0, len(r.Events)-1; i < j; i, j = i+1, j-1 {
		r.Events[i], r.Events[j] = r.Events[j], r.Events[i]
	}
	page, _ := exportHTML(t, db, r, HTMLOptions{})
	times := regexp.MustCompile(`<li id="ev-\d+" class="ev [^>]*><time>([^<]*)</time>`).FindAllStringSubmatch(page, -1)
	if len(times) != len(r.Events) {
		t.Fatalf("%d events in the timeline, %d recorded", len(times), len(r.Events))
	}
	for i := 1; i < len(times); i++ {
		if times[i][1] < times[i-1][1] {
			t.Fatalf("event %d at %s comes after one at %s", i, times[i][1], times[i-1][1])
		}
	}
}

func TestBundleCarriesTheSameHTMLReport(t *testing.T) {
	db, r := htmlIncident(t)
	red, _ := NewRedactor(nil)
	now := time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC)
	var bundle bytes.Buffer
	st, err := Bundle(context.Background(), db, r, &bundle, red, now)
	if err != nil {
		t.Fatal(err)
	}
	if ok, problems, err := VerifyBundle(bytes.NewReader(bundle.Bytes())); err != nil || len(problems) > 0 || ok != st.Files {
		t.Fatalf("bundle: %d ok of %d, %v %v", ok, st.Files, problems, err)
	}
	zr, err := gzip.NewReader(&bundle)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var inBundle []byte
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Name == "calm-"+r.Incident.ID+"/report.html" {
			inBundle, _ = io.ReadAll(tr)
		}
	}
	alone, _ := exportHTML(t, db, r, HTMLOptions{})
	if len(inBundle) == 0 || string(inBundle) != alone {
		t.Fatalf("the bundle's report.html (%d bytes) differs from the export's (%d bytes)", len(inBundle), len(alone))
	}
}

// TestHTMLChecklistSaysWhatWasTickedAnyway: a step ticked while it still
// waited is not shown as done like the others, in its row or its history.
func TestHTMLChecklistSaysWhatWasTickedAnyway(t *testing.T) {
	db, r := htmlIncident(t)
	c, _ := checklist.Find(checklist.Builtin(), "overwrite")
	s := c.Steps[3]
	db.AddEvent(r.Incident.ID, model.EventStep, s.ID, checklist.AnywayText(s.Title, "ada@db1", "waiting for a capture or a diff"))
	r, err := Load(db, r.Incident.ID, checklist.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := exportHTML(t, db, r, HTMLOptions{})
	text := withoutCode(page)
	if !strings.Contains(text, "ticked anyway (was waiting for a capture or a diff)") || !strings.Contains(text, "ticked anyway "+r.Checklist.Steps[3].At.UTC().Format("15:04:05")) {
		t.Fatalf("the page does not say step 4 was ticked anyway")
	}
}

// A line longer than the page's part of a huge capture shows its start and
// its end, and the page says its middle is not there: it is not left out
// whole, as "1 line is not in this page".
func TestHTMLShowsTheEndsOfALineTooLongForThePage(t *testing.T) {
	dir := t.TempDir()
	db, err := storage.Open(storage.Options{Path: filepath.Join(dir, "calm.db"), EvidenceDir: filepath.Join(dir, "evidence")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inc, _ := db.NewIncident("a long line")
	long := "START " + strings.Repeat("x", 600<<10) + " END"
	save(t, db, model.NewCapture{Title: "dump", Source: "tee"}, "first line\n"+long+"\nlast line\n")
	r, err := Load(db, inc.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := exportHTML(t, db, r, HTMLOptions{MaxCapture: 400 << 10})
	for _, want := range []string{"first line", "START xxx", "xxx END", "last line", "the middle of a long line is not in this page"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not hold %q", want)
		}
	}
	if m := regexp.MustCompile(`… \d+ lines? (?:is|are) not in this page`).FindString(page); m != "" {
		t.Errorf("the page counts the long line as left out: %q", m)
	}
}

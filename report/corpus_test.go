package report

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"calm/checklist"
	"calm/model"
	"calm/storage"
)

// coloured paints each secret the way grep --color and jq -C do: an SGR
// sequence in its middle and after it.
func coloured(text string, secrets []string) string {
	for _, s := range secrets {
		mid := len(s) / 2
		text = strings.Replace(text, s, "\x1b[01;31m\x1b[K"+s[:mid]+"\x1b[0;32m"+s[mid:]+"\x1b[m\x1b[K", 1)
	}
	return text
}

// castOf makes an asciicast stream of text, one output event per piece,
// cut in the middle of every secret.
func castOf(title, text string, secrets []string) string {
	var pieces []string
	rest := text
	for _, s := range secrets {
		i := strings.Index(rest, s)
		if i < 0 {
			continue
		}
		cut := i + len(s)/2
		pieces = append(pieces, rest[:cut])
		rest = rest[cut:]
	}
	pieces = append(pieces, rest)
	var b strings.Builder
	head, _ := json.Marshal(map[string]any{"version": 2, "width": 80, "height": 24, "timestamp": 1795701600, "title": title})
	b.Write(head)
	b.WriteByte('\n')
	for i, p := range pieces {
		ev, _ := json.Marshal([]any{float64(i) / 10, "o", strings.ReplaceAll(p, "\n", "\r\n")})
		b.Write(ev)
		b.WriteByte('\n')
	}
	return b.String()
}

// views are every way a person could read an export: its bytes, the
// strings of a JSON document (decoded, base64 content included), a cast's
// output joined, each with escape sequences taken out.
func views(t *testing.T, name string, data []byte) map[string][]byte {
	out := map[string][]byte{name: data}
	var strs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			strs = append(strs, v)
			if dec, err := base64.StdEncoding.DecodeString(v); err == nil && len(v) > 16 {
				strs = append(strs, string(dec))
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<20)
	var joined strings.Builder
	isCast := strings.HasSuffix(name, ".cast")
	for sc.Scan() {
		var v any
		if json.Unmarshal(sc.Bytes(), &v) == nil {
			walk(v)
			if ev, ok := v.([]any); ok && isCast && len(ev) == 3 {
				joined.WriteString(ev[2].(string))
			}
		}
	}
	if strings.HasSuffix(name, ".json") {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s is not JSON: %v", name, err)
		}
		walk(v)
	}
	out[name+" (strings)"] = []byte(strings.Join(strs, "\n"))
	if isCast {
		out[name+" (output)"] = []byte(joined.String())
	}
	for k, v := range out {
		out[k+" as read"] = read(v).text
	}
	return out
}

// leaks names every secret found in an export's views.
func leaks(t *testing.T, name string, data []byte, secrets []string) []string {
	var found []string
	for view, text := range views(t, name, data) {
		for _, s := range secrets {
			for _, line := range strings.Split(s, "\n") {
				if len(line) >= 6 && bytes.Contains(text, []byte(line)) {
					found = append(found, fmt.Sprintf("%s: %q", view, line))
				}
			}
		}
	}
	return found
}

// TestSecretCorpusLeaksIntoNoExport saves every rule's sample plain,
// coloured and as a session cut in the middle of its secrets, with the
// sample as titles, note and command line too, and exports the incident in
// every format: no secret may be readable in any of them.
func TestSecretCorpusLeaksIntoNoExport(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs without -short")
	}
	t.Parallel() // beside the browser test, which mostly waits
	dir := t.TempDir()
	db, err := storage.Open(storage.Options{Path: filepath.Join(dir, "calm.db"), EvidenceDir: filepath.Join(dir, "evidence"), StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inc, _ := db.NewIncident("secret corpus")
	var all []string
	for i, ru := range builtinRules() {
		text, secrets := sampleInput(ru.sample)
		all = append(all, secrets...)
		oneLine := !strings.Contains(text, "\n")
		title := fmt.Sprintf("sample %d", i)
		if oneLine {
			title = text
		}
		save(t, db, model.NewCapture{Title: title, Source: "tee"}, text+"\n")
		save(t, db, model.NewCapture{Title: coloured(title, secrets), Source: "tee"}, coloured(text, secrets)+"\n")
		cmd := "bash"
		if oneLine {
			cmd = text
		}
		save(t, db, model.NewCapture{Title: title, Source: model.SourceSession, Recording: &model.Recording{Command: cmd, Cols: 80, Rows: 24}},
			castOf(title, text+"\n", secrets))
		save(t, db, model.NewCapture{Title: "coloured " + title, Source: model.SourceSession, Recording: &model.Recording{Command: "bash", Cols: 80, Rows: 24}},
			castOf(coloured(title, secrets), coloured(text, secrets)+"\n", secrets))
		if _, err := db.AddNote(inc.ID, text); err != nil {
			t.Fatal(err)
		}
		if oneLine {
			db.AddMarker(inc.ID, "s1", text, 0.1)
		}
	}
	rec, err := Load(db, inc.ID, checklist.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	red, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	exports := map[string][]byte{}
	md, _ := Markdown(rec, red)
	exports["postmortem.md"] = md
	msg, _ := TeamMessage(rec, red)
	exports["message.txt"] = msg
	var txt, js, bundle bytes.Buffer
	if _, err := Text(context.Background(), db, rec, &txt, red); err != nil {
		t.Fatal(err)
	}
	exports["export.txt"] = txt.Bytes()
	if _, err := JSON(context.Background(), db, rec, &js, red); err != nil {
		t.Fatal(err)
	}
	exports["export.json"] = js.Bytes()
	for _, c := range rec.Captures {
		if c.Recording != nil {
			var b bytes.Buffer
			if _, err := Cast(context.Background(), db, c, &b, red); err != nil {
				t.Fatal(err)
			}
			exports[c.ID+".cast"] = b.Bytes()
		}
	}
	if _, err := Bundle(context.Background(), db, rec, &bundle, red, time.Now()); err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(&bundle)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	members := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		exports["bundle:"+h.Name] = data
		members++
	}
	if members < len(rec.Captures)+3 {
		t.Fatalf("the bundle holds %d members for %d captures", members, len(rec.Captures))
	}
	total := 0
	for name, data := range exports {
		for _, l := range leaks(t, name, data, all) {
			t.Errorf("leak in %s", l)
			total++
		}
	}
	if total > 0 {
		t.Fatalf("%d leaks", total)
	}
	// The store keeps the originals.
	var orig bytes.Buffer
	db.WriteContent(context.Background(), inc.ID+"/c1", 0, &orig)
	if _, secrets := sampleInput(builtinRules()[0].sample); !strings.Contains(orig.String(), secrets[0]) {
		t.Fatal("the store lost the original")
	}
}

// TestSecretsSplitAcrossManyEventsOfABigSessionAreRedacted is the cat of a
// 3 MB file of AWS keys in output events of random sizes: every key whose
// bytes fall in two events is still found, across the export's windows.
func TestSecretsSplitAcrossManyEventsOfABigSessionAreRedacted(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs without -short")
	}
	t.Parallel() // beside the browser test, which mostly waits
	rng := rand.New(rand.NewSource(21))
	var text strings.Builder
	var keys []string
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	for text.Len() < 3<<20 {
		k := make([]byte, 16)
		for i := range k {
			k[i] = alphabet[rng.Intn(len(alphabet))]
		}
		key := "AKIA" + string(k)
		keys = append(keys, key)
		fmt.Fprintf(&text, "%06d user=ops region=eu-west-1 aws_access_key_id = %s enabled\r\n", len(keys), key)
	}
	s := text.String()
	var cast strings.Builder
	cast.WriteString(`{"version": 2, "width": 80, "height": 24, "timestamp": 1795701600}` + "\n")
	for pos, at := 0, 0.0; pos < len(s); at += 0.001 {
		n := min(1+rng.Intn(4096), len(s)-pos)
		ev, _ := json.Marshal([]any{at, "o", s[pos : pos+n]})
		cast.Write(ev)
		cast.WriteByte('\n')
		pos += n
	}
	dir := t.TempDir()
	db, err := storage.Open(storage.Options{Path: filepath.Join(dir, "calm.db"), EvidenceDir: filepath.Join(dir, "evidence"), StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := save(t, db, model.NewCapture{Title: "cat keys.csv", Source: model.SourceSession, Recording: &model.Recording{Command: "bash", Cols: 80, Rows: 24}}, cast.String())
	red, _ := NewRedactor(nil)
	var out bytes.Buffer
	n, err := Cast(context.Background(), db, c, &out, red)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(keys) {
		t.Errorf("redacted %d of %d keys", n, len(keys))
	}
	key := regexp.MustCompile(`AKIA[A-Z2-7]{16}`)
	for view, text := range views(t, "s1.cast", out.Bytes()) {
		if l := key.FindAll(text, -1); len(l) > 0 {
			t.Fatalf("%d keys leak in %s, the first %s", len(l), view, l[0])
		}
	}
	// Every line is still there, with its time order.
	if got := strings.Count(string(views(t, "s1.cast", out.Bytes())["s1.cast (output)"]), "enabled\r\n"); got != len(keys) {
		t.Fatalf("%d of %d lines survive", got, len(keys))
	}
}

// straddling is every rule's sample, plain and coloured, after filler lines
// so that byte redactWindow, where a stream is first redacted, falls in
// the middle of its first secret; and the secrets.
func straddling() (texts []string, secrets [][]string) {
	for _, ru := range builtinRules() {
		plain, sec := sampleInput(ru.sample)
		for _, sample := range []string{plain, coloured(plain, sec)} {
			half := sec[0][:len(sec[0])/2]
			into := strings.Index(sample, half) + len(half) // the boundary, in the sample
			var b strings.Builder
			for n := 0; b.Len() < redactWindow-into-200; n++ {
				fmt.Fprintf(&b, "%06d INFO GET /api/v1/orders status=200\n", n)
			}
			b.WriteString(strings.Repeat("x", redactWindow-into-b.Len()-1) + "\n")
			b.WriteString(sample + "\n")
			for n := 0; n < 2000; n++ {
				fmt.Fprintf(&b, "%06d INFO done\n", n)
			}
			texts, secrets = append(texts, b.String()), append(secrets, sec)
		}
	}
	return texts, secrets
}

// A secret whose bytes arrive on both sides of the place where a stream is
// first redacted (the end of its first window) is found whole: in a plain
// capture written in 4 KiB writes, the last of the window ending inside the
// secret, and in a session whose output event ends there.
func TestSecretsStraddlingTheStreamsWindowAreRedacted(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs without -short")
	}
	t.Parallel() // beside the browser test, which mostly waits
	red, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	db, err := storage.Open(storage.Options{Path: filepath.Join(dir, "calm.db"), EvidenceDir: filepath.Join(dir, "evidence"), StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	texts, secrets := straddling()
	for i, text := range texts {
		if half := secrets[i][0][:len(secrets[i][0])/2]; !strings.HasSuffix(text[:redactWindow], half) {
			t.Fatalf("sample %d: the window ends at %q, not in the secret", i, text[redactWindow-20:redactWindow])
		}
		var out bytes.Buffer
		rw := newRedactingWriter(&out, red)
		for pos := 0; pos < len(text); {
			n := min(4096, redactWindow-pos)
			if pos >= redactWindow {
				n = min(4096, len(text)-pos)
			}
			rw.Write([]byte(text[pos : pos+n]))
			pos += n
		}
		if err := rw.Close(); err != nil {
			t.Fatal(err)
		}
		if l := leaks(t, "capture.txt", out.Bytes(), secrets[i]); len(l) > 0 || rw.count() != len(secrets[i]) {
			t.Errorf("sample %d in a capture: %d of %d secrets redacted, leaks %v", i, rw.count(), len(secrets[i]), l)
		}

		var cast strings.Builder
		cast.WriteString(`{"version": 2, "width": 80, "height": 24, "timestamp": 1795701600}` + "\n")
		for pos, at := 0, 0.0; pos < len(text); at += 0.01 {
			n := min(4096, redactWindow-pos)
			if pos >= redactWindow {
				n = min(4096, len(text)-pos)
			}
			ev, _ := json.Marshal([]any{at, "o", text[pos : pos+n]})
			cast.Write(ev)
			cast.WriteByte('\n')
			pos += n
		}
		c := save(t, db, model.NewCapture{Title: fmt.Sprintf("sample %d", i), Source: model.SourceSession, Recording: &model.Recording{Command: "bash", Cols: 80, Rows: 24}}, cast.String())
		out.Reset()
		n, err := Cast(context.Background(), db, c, &out, red)
		if err != nil {
			t.Fatal(err)
		}
		if l := leaks(t, c.ID+".cast", out.Bytes(), secrets[i]); len(l) > 0 || n != len(secrets[i]) {
			t.Errorf("sample %d in a session: %d of %d secrets redacted, leaks %v", i, n, len(secrets[i]), l)
		}
	}
}

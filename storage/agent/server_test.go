package agent

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"calm/model"
	"calm/storage"

	bolt "go.etcd.io/bbolt"
)

// openTestDB opens a store in a temp folder in strict mode, and checks the
// bbolt file's consistency once the test is done with it.
func openTestDB(t *testing.T) *storage.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "calm.db")
	db, err := storage.Open(storage.Options{Path: path, StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("reopen %s: %v", path, err)
		}
		defer b.Close()
		if err := b.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				t.Errorf("consistency: %v", err)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
	return db
}

// save stores data as a capture through a CaptureWriter, as tee does.
func save(t *testing.T, s model.Store, title string, data []byte) model.Capture {
	t.Helper()
	w, err := storage.NewCaptureWriter(s, "", model.NewCapture{Title: title, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// Odd write sizes, so chunk boundaries fall mid-write.
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 300_001)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	c, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func content(t *testing.T, s model.Store, ref string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := s.WriteContent(ref, 0, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// startAgent serves db on a socket in a temp folder and returns a client.
func startAgent(t *testing.T, db *storage.DB, idle time.Duration) (*Client, chan error) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "run", "agent.sock")
	a := &Server{DB: db, Socket: sock, Idle: idle}
	l, err := a.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	c := NewClient(sock, nil, "")
	t.Cleanup(func() { c.Close() })
	return c, done
}

func TestClientDoesEverythingThroughTheAgent(t *testing.T) {
	db := openTestDB(t)
	c, _ := startAgent(t, db, 0)
	inc, err := c.NewIncident("orders overwritten")
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("{ _id: ObjectId(\"65f1\"), total: NumberLong(42) }\n"), 50_000)
	cp := save(t, c, "before", data)
	if cp.Incident != inc.ID || cp.VerifiedCopies() != 2 {
		t.Fatalf("capture %+v", cp)
	}
	if got := content(t, c, "c1"); !bytes.Equal(got, data) {
		t.Fatal("content differs through the agent")
	}
	n := 0
	if err := c.Search(model.SearchQuery{Pattern: `NumberLong\(42\)`}, func(model.Match) error { n++; return nil }); err != nil || n != 50_000 {
		t.Fatalf("search found %d (%v)", n, err)
	}
	if _, err := c.Capture("c9"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown capture through the agent: %v, want ErrNotFound", err)
	}
	if _, err := c.AddNote("", "  "); !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("empty note: %v", err)
	}
	rep, err := c.Verify("")
	if err != nil || rep.Copies != 2 || len(rep.Problems) != 0 {
		t.Fatalf("verify %+v %v", rep, err)
	}
	fi, err := os.Stat(c.Socket)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v %v, want 0600", fi.Mode(), err)
	}
	if fi, _ := os.Stat(filepath.Dir(c.Socket)); fi.Mode().Perm() != 0o700 {
		t.Fatalf("socket folder mode %v, want 0700", fi.Mode())
	}
}

func TestStaleSocketIsReplaced(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close() // what a SIGKILLed agent leaves behind
	if _, err := net.Dial("unix", sock); err == nil {
		t.Fatal("stale socket still answers")
	}
	db := openTestDB(t)
	a := &Server{DB: db, Socket: sock}
	l2, err := a.Listen()
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	l2.Close()
}

func TestAgentExitsWhenIdle(t *testing.T) {
	db := openTestDB(t)
	c, done := startAgent(t, db, 300*time.Millisecond)
	if _, err := c.Incidents(); err != nil {
		t.Fatal(err)
	}
	c.Close() // no client left
	select {
	case err := <-done:
		done <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("agent still running long after its idle time")
	}
	if _, err := os.Stat(c.Socket); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
}

// FuzzAgentRequests sends any body and query to every route of the agent:
// it never panics, never answers 500 for bad input, and the store stays
// consistent: bbolt's own check and calm's find nothing wrong after each
// request.
func FuzzAgentRequests(f *testing.F) {
	// New routes go at the end: the seeds below name routes by index.
	routes := []string{"POST /v1/incidents", "GET /v1/incident", "POST /v1/incident/use", "POST /v1/incident/close",
		"POST /v1/captures", "PUT /v1/chunk", "GET /v1/committed", "POST /v1/seal", "GET /v1/captures", "GET /v1/capture",
		"GET /v1/content", "POST /v1/notes", "POST /v1/markers", "POST /v1/events", "GET /v1/events", "POST /v1/search", "POST /v1/verify",
		"GET /v1/status", "GET /v1/incidents", "POST /v1/incident/reopen", "POST /v1/captures/move", "POST /v1/incident/current",
		"POST /v1/follow", "POST /v1/seal-journal", "GET /v1/text", "POST /v1/repair", "GET /v1/check"}
	f.Add(uint8(4), "incident=&capture=c1&n=0", []byte(`{"Title":"x","Source":"tee"}`))
	f.Add(uint8(5), "incident=&capture=c1&n=18446744073709551615", []byte("chunk"))
	f.Add(uint8(7), "incident=&capture=c1", []byte(`{"chunks":1,"size":5,"sha256":"00"}`))
	f.Add(uint8(15), "", []byte(`{"pattern":"(","literal":false}`))
	f.Add(uint8(10), "ref=c1&from=-1", []byte{})
	f.Add(uint8(13), "incident=", []byte(`{"Kind":"capture","Item":"c1","Text":"x"}`))
	db, err := storage.Open(storage.Options{Path: filepath.Join(f.TempDir(), "calm.db"), StrictMode: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	db.NewIncident("fuzz")
	h := (&Server{DB: db}).routes()
	f.Fuzz(func(t *testing.T, route uint8, query string, body []byte) {
		method, path, _ := strings.Cut(routes[int(route)%len(routes)], " ")
		u := &url.URL{Scheme: "http", Host: "calm", Path: path, RawQuery: url.PathEscape(query)}
		req, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
		if err != nil {
			return
		}
		req.URL.RawQuery = query // the agent must cope with any query it is sent
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && !strings.Contains(rec.Body.String(), "damaged") {
			t.Fatalf("%s %s?%s with %q: %d %s", method, path, query, body, rec.Code, rec.Body.String())
		}
		// calm's check runs bbolt's own (tx.Check) and reads every record.
		rep, err := db.Check()
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) > 0 {
			t.Fatalf("after %s %s?%s with %q: %v", method, path, query, body, rep.Problems)
		}
	})
}

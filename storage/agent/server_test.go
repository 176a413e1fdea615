package agent

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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
	return openTestDBWith(t, storage.Options{})
}

// openTestDBWith is openTestDB with options.
func openTestDBWith(t *testing.T, o storage.Options) *storage.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "calm.db")
	o.Path, o.StrictMode = path, true
	db, err := storage.Open(o)
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
	w, err := model.NewCaptureWriter(s, "", model.NewCapture{Title: title, Source: "test"})
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
	if err := s.WriteContent(context.Background(), ref, 0, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// startAgent serves db on a socket in a temp folder and returns a client.
func startAgent(t *testing.T, db *storage.DB, idle time.Duration) (*Client, chan error) {
	t.Helper()
	return startAgentOn(t, db, idle, func(l net.Listener) net.Listener { return l })
}

// startAgentOn is startAgent with the agent's listener wrapped.
func startAgentOn(t *testing.T, db *storage.DB, idle time.Duration, wrap func(net.Listener) net.Listener) (*Client, chan error) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "run", "agent.sock")
	a := &Server{DB: db, Socket: sock, Idle: idle}
	l, err := a.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, wrap(l)) }()
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
	if err := c.Search(context.Background(), model.SearchQuery{Pattern: `NumberLong\(42\)`}, func(model.Match) error { n++; return nil }); err != nil || n != 50_000 {
		t.Fatalf("search found %d (%v)", n, err)
	}
	if _, err := c.Capture("c9"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown capture through the agent: %v, want ErrNotFound", err)
	}
	if _, err := c.AddNote("", "  "); !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("empty note: %v", err)
	}
	rep, err := c.Verify(context.Background(), "")
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

// TestSearchAndVerifyStopForAClientThatHungUp: the agent searches and
// verifies under the request's context, which ends when the client hangs
// up, so a Ctrl-C on calm search does not leave the agent working.
func TestSearchAndVerifyStopForAClientThatHungUp(t *testing.T) {
	db := openTestDB(t)
	w, err := model.NewCaptureWriter(db, "", model.NewCapture{Title: "log", Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(strings.Repeat("a line with a needle\n", 1000)))
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	h := (&Server{DB: db}).routes()
	gone, hangUp := context.WithCancel(context.Background())
	hangUp()
	for _, tc := range []struct{ path, body string }{
		{"/v1/search", `{"Pattern":"needle","Literal":true}`},
		{"/v1/verify", ""},
	} {
		req := httptest.NewRequest("POST", tc.path, strings.NewReader(tc.body)).WithContext(gone)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if body := rec.Body.String(); strings.Contains(body, "needle") || !strings.Contains(body, "context canceled") {
			t.Errorf("%s for a client that hung up answered %d: %.200q", tc.path, rec.Code, body)
		}
	}
	// The same requests from a client still there are answered in full.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/search", strings.NewReader(`{"Pattern":"needle","Literal":true}`)))
	if n := strings.Count(rec.Body.String(), "needle"); n != 1000 {
		t.Fatalf("search found %d lines, want 1000", n)
	}
}

// TestAMoveIsNotSentTwice: a move that reached an agent which then died
// is not sent again (the second would find its capture gone and say so,
// after the first had moved it); the error says it may have happened.
func TestAMoveIsNotSentTwice(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 10)
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			// An agent that reads the request and dies before answering.
			req, err := http.ReadRequest(bufio.NewReader(conn))
			if err == nil {
				got <- req.URL.Path
			}
			conn.Close()
		}
	}()
	// "true" as the agent command: starting one does nothing, and the
	// listener above stays the agent that answers the socket.
	c := NewClient(sock, []string{"true"}, filepath.Join(t.TempDir(), "agent.log"))
	if _, err := c.MoveCapture("c1", "other"); err == nil || !strings.Contains(err.Error(), "may have done it") {
		t.Fatalf("move through a dying agent: %v", err)
	}
	if n := len(got); n != 1 {
		t.Fatalf("the move was sent %d times", n)
	}
}

// TestAnEndedContextHangsUpOnTheAgent: a long read (search, verify, a
// capture's bytes or text) whose context ends hangs up its request, so the
// agent's handler sees its own context end and stops (as the test above
// shows it does); the call returns the context's error, without starting
// another agent or sending it again.
func TestAnEndedContextHangsUpOnTheAgent(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	arrived, hungUp := make(chan string, 1), make(chan string, 1)
	// An agent that starts every answer and then works until its client
	// has gone.
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		arrived <- r.URL.Path
		<-r.Context().Done()
		hungUp <- r.URL.Path
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c := NewClient(sock, []string{"false"}, filepath.Join(t.TempDir(), "agent.log"))
	t.Cleanup(func() { c.Close() })
	calls := map[string]func(ctx context.Context) error{
		"/v1/search": func(ctx context.Context) error {
			return c.Search(ctx, model.SearchQuery{Pattern: "x"}, func(model.Match) error { return nil })
		},
		"/v1/verify": func(ctx context.Context) error { _, err := c.Verify(ctx, ""); return err },
		"/v1/content": func(ctx context.Context) error {
			return c.WriteContent(ctx, "c1", 0, io.Discard)
		},
		"/v1/text": func(ctx context.Context) error { return c.WriteText(ctx, "c1", io.Discard) },
	}
	for path, call := range calls {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- call(ctx) }()
		if got := <-arrived; got != path {
			t.Fatalf("the agent was asked for %s, want %s", got, path)
		}
		cancel()
		select {
		case got := <-hungUp:
			if got != path {
				t.Fatalf("%s hung up, want %s", got, path)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the agent's request did not end with the client's context", path)
		}
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("%s after its context ended: %v, want context.Canceled", path, err)
		}
		select {
		case again := <-arrived:
			t.Fatalf("%s was sent again after its context ended", again)
		default:
		}
	}
}

// TestAnOlderAgentIsSentTheBytes: an agent started by an older calm, which
// does not read spools, is asked once and then sent the bytes; this one
// reads them.
func TestAnOlderAgentIsSentTheBytes(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int32
	older := http.NewServeMux() // knows nothing of spools
	older.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.NotFound(w, r)
	})
	srv := &http.Server{Handler: older}
	go srv.Serve(l)
	defer srv.Close()
	c := NewClient(sock, []string{"true"}, filepath.Join(t.TempDir(), "agent.log"))
	defer c.Close()
	w := model.AttachCaptureWriter(c, model.Capture{Incident: "i", ID: "c1"})
	if w.UseSpool() || c.ReadsSpools() || asked.Load() != 1 {
		t.Fatalf("an older agent: reads spools %v, asked %d times", c.ReadsSpools(), asked.Load())
	}

	current, _ := startAgent(t, openTestDB(t), 0)
	if !current.ReadsSpools() {
		t.Fatal("this agent says it does not read spools")
	}
}

// TestAWriteRefusedWhileTheStoreIsWrittenBackIsSentAgain: while an agent
// writes its store's file back (deleted under it), it refuses writes
// (ErrStoreMoved, 503 with Retry-After) rather than keep them where nothing
// will read them; the client sends such a write again, under the same
// request ID, until an agent takes it. A move, which must not be sent
// twice, is not: its caller hears why.
func TestAWriteRefusedWhileTheStoreIsWrittenBackIsSentAgain(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int32
	requests := make(chan string, 10)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests <- r.URL.Path + " " + r.Header.Get(requestHeader)
		if sent.Add(1) == 1 || r.URL.Path == "/v1/captures/move" {
			writeError(w, fmt.Errorf("%w: what it holds is being written to /x/calm.db; send again", model.ErrStoreMoved))
			return
		}
		writeJSON(w, model.Event{Seq: 2, Kind: model.EventNote, Text: "kept"}, nil)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c := NewClient(sock, []string{"false"}, filepath.Join(t.TempDir(), "agent.log"))
	t.Cleanup(func() { c.Close() })

	ev, err := c.AddNote("i", "kept")
	if err != nil || ev.Text != "kept" {
		t.Fatalf("a note refused once while the store was written back: %+v, %v", ev, err)
	}
	first, again := <-requests, <-requests
	if !strings.HasPrefix(first, "/v1/notes ") || first != again || strings.HasSuffix(first, " ") {
		t.Fatalf("the note was sent as %q, then %q; want the same request twice, under one request ID", first, again)
	}
	sent.Store(0)
	if _, err := c.MoveCapture("c1", "other"); !errors.Is(err, model.ErrStoreMoved) {
		t.Fatalf("a move refused while the store was written back: %v, want ErrStoreMoved", err)
	}
	<-requests
	select {
	case again := <-requests:
		t.Fatalf("the move was sent again: %s", again)
	default:
	}
}

// TestAgentWithoutIdleLimitWritesADeletedStoreBack: the agent notices its
// store's file deleted, writes it back and stops, whether or not it has an
// idle limit (the check used to run only on the idle timer).
func TestAgentWithoutIdleLimitWritesADeletedStoreBack(t *testing.T) {
	db := openTestDB(t)
	c, done := startAgent(t, db, 0)
	if _, err := c.NewIncident("deleted under the agent"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(db.Path()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("the agent never noticed its store's file deleted")
	}
	if _, err := os.Stat(db.Path()); err != nil {
		t.Fatalf("the store's file was not written back: %v", err)
	}
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// TestChunksShareOneConnection: the agent answers a chunk before it encodes
// it, and the answer says its length, so the client has all of it at once
// and sends the next chunk on the same connection. Unsized, the answer
// stayed open until the handler returned, the client hung up on it, and
// every chunk took a new connection (165 for a 200 MiB tee).
func TestChunksShareOneConnection(t *testing.T) {
	// A commit for every chunk keeps the encoders waiting on the disk, so
	// the agent answers chunks it cannot encode yet, as in a large tee.
	db := openTestDBWith(t, storage.Options{BatchBytes: 1})
	counted := &countingListener{}
	c, _ := startAgentOn(t, db, 0, func(l net.Listener) net.Listener {
		counted.Listener = l
		return counted
	})

	var data []byte
	for i := 0; len(data) < 12*model.ChunkSize; i++ {
		data = fmt.Appendf(data, "line %d of the output, %x\n", i, i*7919)
	}
	got := save(t, c, "one connection", data)
	if !bytes.Equal(content(t, c, got.Incident+"/"+got.ID), data) {
		t.Fatal("the capture differs from what was written")
	}
	// One for the writer's requests; the agent's answers to reads may
	// overlap it.
	if n := counted.accepted.Load(); n > 2 {
		t.Fatalf("%d connections for a capture of %d chunks: the client hung up on the agent's answers", n, len(data)/model.ChunkSize+1)
	}

	// The answer to a chunk says its length.
	inc, err := c.CurrentIncident()
	if err != nil {
		t.Fatal(err)
	}
	cp, err := c.CreateCapture(inc.ID, model.NewCapture{Title: "sized", Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", "http://calm/v1/chunk?"+chunkQuery(inc.ID, cp.ID, 0).Encode(), bytes.NewReader([]byte("one chunk\n")))
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 {
		t.Fatalf("answer to a chunk: %s, Content-Length %d, Transfer-Encoding %v, body %q: want its length said", resp.Status, resp.ContentLength, resp.TransferEncoding, body)
	}
}

// TestRuntimeFolderOfAnotherUserIsAvoided: another user's calm/ in a
// shared XDG_RUNTIME_DIR blocked every command ("not a folder of yours");
// the socket goes to the folder in the home instead, as when another user
// made /tmp/calm-<uid> first.
func TestRuntimeFolderOfAnotherUserIsAvoided(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to make a folder another user owns") // CI runs as root
	}
	shared, home := t.TempDir(), t.TempDir()
	theirs := filepath.Join(shared, "calm")
	os.Mkdir(theirs, 0o777)
	os.Chown(theirs, 65534, 65534)
	t.Setenv("XDG_RUNTIME_DIR", shared)
	t.Setenv("HOME", home)
	if got, want := socketDir(), filepath.Join(home, ".cache", "calm", "run"); got != want {
		t.Fatalf("socket folder %s, want %s", got, want)
	}
	os.Chown(theirs, 0, 0)
	os.Chmod(theirs, 0o700)
	if got := socketDir(); got != theirs {
		t.Fatalf("socket folder %s, want the runtime folder's own %s", got, theirs)
	}
}

// TestASearchCutShortHandsOutNoPartOfALine: an agent killed while it sent
// search results left the client a piece of a line, which it reported as
// "a malformed line", or, where the piece held the tabs of a whole one,
// handed out as a line cut short.
func TestASearchCutShortHandsOutNoPartOfALine(t *testing.T) {
	for _, sent := range []string{
		"inc-1\tc1\t7\twhole line\ninc-1\tc1\t9\tthis line was cu",
		"inc-1\tc1\t7\twhole line\ninc-1\tc",
	} {
		sock := filepath.Join(t.TempDir(), "agent.sock")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			if _, err := http.ReadRequest(bufio.NewReader(conn)); err == nil {
				fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/tab-separated-values\r\nContent-Length: %d\r\n\r\n%s", len(sent), sent)
			}
			conn.Close()
		}()
		c := NewClient(sock, []string{"true"}, filepath.Join(t.TempDir(), "agent.log"))
		var got []string
		err = c.Search(context.Background(), model.SearchQuery{Pattern: "line", Literal: true}, func(m model.Match) error {
			got = append(got, fmt.Sprintf("%d:%s", m.Line, m.Text))
			return nil
		})
		l.Close()
		if len(got) != 1 || got[0] != "7:whole line" {
			t.Errorf("%q: handed out %q, want only the whole line", sent, got)
		}
		if err == nil || !strings.Contains(err.Error(), "stopped answering while it searched") {
			t.Errorf("%q: %v", sent, err)
		}
	}
}

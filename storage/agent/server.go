// Package agent is how calm's processes share one store: the Server that
// holds the bbolt file and serves it on a private Unix socket, and the Client,
// a model.Store, that every command talks to it through.
package agent

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"calm/model"
	"calm/storage"

	"golang.org/x/sys/unix"
)

// Server serves a storage.DB to the other calm processes over a Unix socket that only
// the same user may use.
type Server struct {
	DB     *storage.DB
	Socket string
	Idle   time.Duration // exit after this long with no client; 0: never
	Logf   func(format string, args ...any)
	// Settings are what it was started with (its mirrors), said in its
	// status so a client can tell when it asks for more.
	Settings any

	active   atomic.Int64
	lastSeen atomic.Int64 // unix nanoseconds
}

// peerListener drops connections from any other user, whatever the file
// modes say (root can pass them).
type peerListener struct {
	net.Listener
	logf func(string, ...any)
}

func (l peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uc, ok := c.(*net.UnixConn)
		if !ok {
			c.Close()
			continue
		}
		uid, err := peerUID(uc)
		if err != nil || uid != os.Getuid() {
			l.logf("refused a client with uid %d (err %v)", uid, err)
			c.Close()
			continue
		}
		// A search's lines, a content read: room for a few of the
		// responses' writes, so that each wakes the client less often.
		uc.SetWriteBuffer(socketBuffer)
		return c, nil
	}
}

func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if credErr != nil {
		return -1, credErr
	}
	return int(cred.Uid), nil
}

// Listen binds the socket, replacing a stale one. Call it only while holding
// the store (the bbolt lock), so that no live agent owns that socket.
func (a *Server) Listen() (net.Listener, error) {
	if err := EnsurePrivateDir(filepath.Dir(a.Socket)); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(a.Socket); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(a.Socket) // left by a killed agent
	}
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", a.Socket)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", a.Socket, err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(a.Socket, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Serve answers clients until ctx ends or the agent has been idle long enough.
func (a *Server) Serve(ctx context.Context, l net.Listener) error {
	if a.Logf == nil {
		a.Logf = func(string, ...any) {}
	}
	a.lastSeen.Store(time.Now().UnixNano())
	routes := a.routes()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if warning := a.DB.Warning(); warning != "" {
				w.Header().Set(warningHeader, warning)
			}
			routes.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				a.active.Add(1)
			case http.StateClosed, http.StateHijacked:
				a.active.Add(-1)
			}
			a.lastSeen.Store(time.Now().UnixNano())
		},
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(peerListener{l, a.Logf}) }()
	// The ticker runs without an idle limit too: it is what notices a
	// store file deleted under the agent, or its socket.
	every := time.Second
	if a.Idle > 0 {
		every = min(a.Idle/4+time.Millisecond, every)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	rescueFailed := ""
	shutdown := func(why string) error {
		a.Logf("agent stopping: %s", why)
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if st, e := os.Lstat(a.Socket); e == nil && st.Mode()&os.ModeSocket != 0 {
			os.Remove(a.Socket)
		}
		return err
	}
	for {
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			return shutdown("asked to stop")
		case <-tick.C:
			quiet := time.Since(time.Unix(0, a.lastSeen.Load()))
			if a.Idle > 0 && a.active.Load() == 0 && quiet >= a.Idle && a.DB.Following() == 0 {
				return shutdown(fmt.Sprintf("no client for %s", quiet.Round(time.Second)))
			}
			if rescued, err := a.DB.RescueIfGone(); err != nil {
				// Keep serving: stopping now would lose what is open. Said
				// once, not every second, until the reason changes.
				if err.Error() != rescueFailed {
					rescueFailed = err.Error()
					a.Logf("%v", err)
				}
			} else if rescued != "" {
				return shutdown(fmt.Sprintf("the store's file was deleted or replaced: what it held is now in %s", rescued))
			}
			if _, err := os.Lstat(a.Socket); err != nil {
				// Someone deleted the socket: bind it again so clients find us.
				if nl, err := a.Listen(); err == nil {
					go func() { _ = srv.Serve(peerListener{nl, a.Logf}) }()
				}
			}
		}
	}
}

// warningHeader carries, on every answer, what each command should tell its
// user before trusting the store (DB.Warning).
const warningHeader = "Calm-Warning"

// requestHeader carries a creating request's ID, made by the client: the
// agent answers a repeat with the first answer (storage.DB.Request).
const requestHeader = "Calm-Request"

func requestID(r *http.Request) string {
	id := r.Header.Get(requestHeader)
	if len(id) > 64 {
		return "" // not one of ours
	}
	return id
}

// chunkBuffers recycles request bodies: putChunk never keeps them.
// Sized for the usual chunk; a larger one (up to MaxChunk) gets its own.
var chunkBuffers = sync.Pool{New: func() any { b := make([]byte, 0, storage.ChunkSize); return &b }}

// apiError is the JSON body of a failed request.
type apiError struct {
	Error string `json:"error"`
	Kind  string `json:"kind"`
}

var errorKinds = []struct {
	err    error
	kind   string
	status int
}{
	{model.ErrNotFound, "not_found", http.StatusNotFound},
	{model.ErrAmbiguous, "ambiguous", http.StatusConflict},
	{model.ErrConflict, "conflict", http.StatusConflict},
	{model.ErrInvalid, "invalid", http.StatusBadRequest},
	{model.ErrDamaged, "damaged", http.StatusInternalServerError},
	{model.ErrNoSpace, "no_space", http.StatusInsufficientStorage},
	// Refused while the store's file is written back: the client sends it
	// again (Retry-After), to the agent that opens the file.
	{model.ErrStoreMoved, "store_moved", http.StatusServiceUnavailable},
}

func writeError(w http.ResponseWriter, err error) {
	body := apiError{Error: err.Error(), Kind: "internal"}
	status := http.StatusInternalServerError
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			body.Kind, status = k.kind, k.status
			break
		}
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	sendJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	sendJSON(w, http.StatusOK, v)
}

// sendJSON answers with v as JSON and says its length: the client has the
// whole answer once it is written, even while the handler goes on (a chunk
// is answered before it is encoded), and keeps the connection for its next
// request. Without the length, such an answer stayed open until the handler
// returned, and the client, done with it, hung up: a new connection for
// every chunk.
func sendJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(apiError{Error: "encode the answer: " + err.Error(), Kind: "internal"})
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// none is the body of a request that has none.
type none struct{}

// answer serves a route the common way: decode the request's JSON body
// into In (unless it has none), call, and answer with the result as JSON or
// the error with its status.
func answer[In any](mux *http.ServeMux, pattern string, call func(r *http.Request, body In) (any, error)) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		var body In
		if _, empty := any(body).(none); !empty {
			if err := decode(r, &body); err != nil {
				writeError(w, err)
				return
			}
		}
		v, err := call(r, body)
		writeJSON(w, v, err)
	})
}

// decode reads a small JSON request body.
func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v); err != nil {
		return model.Errorf(model.ErrInvalid, "request body: %v", err)
	}
	return nil
}

func (a *Server) routes() http.Handler {
	db := a.DB
	mux := http.NewServeMux()
	q := func(r *http.Request, k string) string { return r.URL.Query().Get(k) }
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"pid": os.Getpid(), "store": db.Path(), "schema": storage.SchemaVersion, "settings": a.Settings, "lines_pending": db.LinesPending()}, nil)
	})
	answer(mux, "GET /v1/incidents", func(r *http.Request, _ none) (any, error) { return db.Incidents() })
	answer(mux, "POST /v1/incidents", func(r *http.Request, body struct{ Title string }) (any, error) {
		return db.Request(requestID(r)).NewIncident(body.Title)
	})
	answer(mux, "GET /v1/incident", func(r *http.Request, _ none) (any, error) { return db.Incident(q(r, "ref")) })
	answer(mux, "POST /v1/incident/use", func(r *http.Request, _ none) (any, error) { return db.UseIncident(q(r, "ref")) })
	answer(mux, "POST /v1/incident/close", func(r *http.Request, _ none) (any, error) { return db.CloseIncident(q(r, "ref")) })
	answer(mux, "POST /v1/incident/reopen", func(r *http.Request, _ none) (any, error) { return db.ReopenIncident(q(r, "ref")) })
	answer(mux, "POST /v1/captures/move", func(r *http.Request, _ none) (any, error) { return db.MoveCapture(q(r, "ref"), q(r, "to")) })
	answer(mux, "POST /v1/incident/current", func(r *http.Request, _ none) (any, error) { return db.Request(requestID(r)).CurrentIncident() })
	answer(mux, "POST /v1/captures", func(r *http.Request, body model.NewCapture) (any, error) {
		return db.Request(requestID(r)).CreateCapture(q(r, "incident"), body)
	})
	mux.HandleFunc("PUT /v1/chunk", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseUint(q(r, "n"), 10, 64)
		if err != nil {
			writeError(w, model.Errorf(model.ErrInvalid, "chunk number %q", q(r, "n")))
			return
		}
		if r.ContentLength < 0 || r.ContentLength > storage.MaxChunk {
			writeError(w, model.Errorf(model.ErrInvalid, "chunk %d: a chunk needs a Content-Length of at most %d", n, storage.MaxChunk))
			return
		}
		pooled := chunkBuffers.Get().(*[]byte)
		data := *pooled
		if int64(cap(data)) < r.ContentLength {
			data = make([]byte, r.ContentLength)
		}
		data = data[:r.ContentLength]
		release := func() { *pooled = data[:0]; chunkBuffers.Put(pooled) }
		if _, err := io.ReadFull(r.Body, data); err != nil {
			release()
			writeError(w, model.Errorf(model.ErrInvalid, "chunk %d arrived cut short (%v)", n, err))
			return
		}
		incident, capture := q(r, "incident"), q(r, "capture")
		// Answer first, then encode and queue beside the next request: the
		// client sends its next chunk while this one is compressed. Not yet
		// acknowledged, so an agent that dies here loses nothing the client
		// does not still hold.
		db.PutChunkAnswered(incident, capture, n, data, func(c uint64, fresh bool, err error) {
			writeJSON(w, map[string]uint64{"committed": c}, err)
			if err == nil && fresh {
				w.(http.Flusher).Flush()
			}
		}, release)
	})
	mux.HandleFunc("GET /v1/spooled", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, none{}, nil) // yes: this agent reads spools (ReadsSpools)
	})
	mux.HandleFunc("PUT /v1/spooled", func(w http.ResponseWriter, r *http.Request) {
		n, err1 := strconv.ParseUint(q(r, "n"), 10, 64)
		off, err2 := strconv.ParseInt(q(r, "off"), 10, 64)
		size, err3 := strconv.Atoi(q(r, "size"))
		if err := errors.Join(err1, err2, err3); err != nil || size < 0 || size > storage.MaxChunk {
			writeError(w, model.Errorf(model.ErrInvalid, "spooled chunk n=%q off=%q size=%q", q(r, "n"), q(r, "off"), q(r, "size")))
			return
		}
		pooled := chunkBuffers.Get().(*[]byte)
		data := *pooled
		if cap(data) < size {
			data = make([]byte, size)
		}
		data = data[:size]
		release := func() { *pooled = data[:0]; chunkBuffers.Put(pooled) }
		incident, capture := q(r, "incident"), q(r, "capture")
		if err := db.ReadSpooled(incident, capture, off, data); err != nil {
			release()
			writeError(w, err)
			return
		}
		// As for a chunk sent whole: answered first, encoded beside.
		db.PutChunkAnswered(incident, capture, n, data, func(c uint64, fresh bool, err error) {
			writeJSON(w, map[string]uint64{"committed": c}, err)
			if err == nil && fresh {
				w.(http.Flusher).Flush()
			}
		}, release)
	})
	mux.HandleFunc("GET /v1/committed", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseUint(q(r, "n"), 10, 64)
		c, err := db.WaitCommitted(q(r, "incident"), q(r, "capture"), n)
		writeJSON(w, map[string]uint64{"committed": c}, err)
	})
	answer(mux, "POST /v1/seal", func(r *http.Request, body model.Seal) (any, error) {
		return db.SealCapture(q(r, "incident"), q(r, "capture"), body)
	})
	answer(mux, "POST /v1/follow", func(r *http.Request, _ none) (any, error) {
		return none{}, db.FollowJournal(q(r, "incident"), q(r, "capture"))
	})
	mux.HandleFunc("POST /v1/seal-journal", func(w http.ResponseWriter, r *http.Request) {
		size, err := strconv.ParseInt(q(r, "size"), 10, 64)
		if err != nil || size <= 0 {
			writeError(w, model.Errorf(model.ErrInvalid, "size %q is not a journal size", q(r, "size")))
			return
		}
		v, err := db.SealJournal(q(r, "incident"), q(r, "capture"), size, q(r, "cut"))
		writeJSON(w, v, err)
	})
	answer(mux, "GET /v1/captures", func(r *http.Request, _ none) (any, error) {
		list, err := db.Captures(q(r, "incident"))
		for i := range list {
			list[i] = storage.WithFilesLooked(db.WithWaiting(list[i]))
		}
		return list, err
	})
	answer(mux, "GET /v1/capture", func(r *http.Request, _ none) (any, error) {
		c, err := db.Capture(q(r, "ref"))
		return storage.WithFilesLooked(db.WithWaiting(c)), err
	})
	mux.HandleFunc("GET /v1/content", func(w http.ResponseWriter, r *http.Request) {
		c, err := db.Capture(q(r, "ref"))
		if err != nil {
			writeError(w, err)
			return
		}
		from, err := strconv.ParseInt(cmp.Or(q(r, "from"), "0"), 10, 64)
		if err != nil || from < 0 {
			writeError(w, model.Errorf(model.ErrInvalid, "from must be a byte offset"))
			return
		}
		// Checked before the first byte, so a damaged store copy is an
		// error, or a note saying which copy is read instead.
		if note, err := db.ReadNotice(c.Incident + "/" + c.ID); err != nil {
			writeError(w, err)
			return
		} else if note != "" {
			w.Header().Set("Calm-Notice", note)
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		if c.State == model.CaptureSealed && from <= c.Size {
			w.Header().Set("Content-Length", strconv.FormatInt(c.Size-from, 10))
		}
		_ = db.WriteContent(r.Context(), c.Incident+"/"+c.ID, from, w)
	})
	mux.HandleFunc("GET /v1/text", func(w http.ResponseWriter, r *http.Request) {
		c, err := db.Capture(q(r, "ref"))
		if err != nil {
			writeError(w, err)
			return
		}
		note, err := db.TextNotice(c.Incident + "/" + c.ID)
		if err != nil {
			writeError(w, err)
			return
		}
		if note != "" {
			w.Header().Set("Calm-Notice", note)
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		if c.Text != nil && note == "" {
			w.Header().Set("Content-Length", strconv.FormatInt(c.Text.Size, 10))
		}
		_ = db.WriteText(r.Context(), c.Incident+"/"+c.ID, w)
	})
	answer(mux, "POST /v1/notes", func(r *http.Request, body struct{ Text string }) (any, error) {
		return db.Request(requestID(r)).AddNote(q(r, "incident"), body.Text)
	})
	answer(mux, "POST /v1/events", func(r *http.Request, body struct{ Kind, Item, Text string }) (any, error) {
		return db.Request(requestID(r)).AddEvent(q(r, "incident"), body.Kind, body.Item, body.Text)
	})
	answer(mux, "POST /v1/markers", func(r *http.Request, body struct {
		Item, Text string
		At         float64
	}) (any, error) {
		return db.Request(requestID(r)).AddMarker(q(r, "incident"), body.Item, body.Text, body.At)
	})
	answer(mux, "GET /v1/events", func(r *http.Request, _ none) (any, error) { return db.Events(q(r, "incident")) })
	mux.HandleFunc("POST /v1/search", func(w http.ResponseWriter, r *http.Request) {
		var body model.SearchQuery
		if err := decode(r, &body); err != nil {
			writeError(w, err)
			return
		}
		if _, err := body.Regexp(); err != nil {
			writeError(w, err)
			return
		}
		// One match a line, INCIDENT TAB ITEM TAB LINE TAB TEXT: the text is
		// sanitised, so it holds no newline; JSON here cost more than the
		// search itself. A line starting with NUL carries an error, one
		// starting with SOH a notice (a damaged store copy, and the
		// verified copy searched instead).
		w.Header().Set("Content-Type", "text/tab-separated-values")
		bw := bufio.NewWriterSize(w, 256<<10)
		body.Notice = func(n string) { bw.WriteString("\x01" + strings.ReplaceAll(n, "\n", " ") + "\n") }
		// The request's context ends when the client hangs up (Ctrl-C on
		// calm search): the search stops with it.
		err := db.SearchLines(r.Context(), body, func(h model.LineHit) error {
			if bw.Available() < len(h.Text)+64 {
				if err := bw.Flush(); err != nil {
					return err
				}
			}
			_, err := bw.Write(storage.AppendHit(bw.AvailableBuffer(), h, '\t', '\t'))
			return err
		})
		if err != nil {
			bw.WriteString("\x00" + strings.ReplaceAll(err.Error(), "\n", " ") + "\n")
		}
		bw.Flush()
	})
	answer(mux, "POST /v1/verify", func(r *http.Request, _ none) (any, error) { return db.Verify(r.Context(), q(r, "incident")) })
	answer(mux, "POST /v1/repair", func(r *http.Request, _ none) (any, error) { return db.RepairCopies(q(r, "incident")) })
	answer(mux, "GET /v1/check", func(r *http.Request, _ none) (any, error) { return db.Check() })
	return mux
}

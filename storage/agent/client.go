package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"calm/model"
	"calm/storage"
)

var _ model.Store = (*Client)(nil)

// Client is the Store as served by the agent. It starts the agent when none
// answers, and again if the agent dies under it.
type Client struct {
	Socket string
	// AgentCommand is how to start the agent (argv; the first element is the
	// program). Nil: never start one.
	AgentCommand []string
	// AgentLog receives the agent's own output.
	AgentLog string
	// Notice hears what the agent says beside a read: which copy it read
	// when the store's was damaged.
	Notice func(string)

	http     *http.Client
	warning  atomic.Pointer[string]
	agentPID atomic.Int64 // the process serving the socket, as its last connection said

	spoolsOnce  sync.Once
	readsSpools bool
}

// Warning is what the agent said every command should tell its user (a lost
// store), or "".
func (c *Client) Warning() string {
	if w := c.warning.Load(); w != nil {
		return *w
	}
	return ""
}

// socketBuffer is the size asked of the kernel for each side of the agent's
// socket.
const socketBuffer = 1 << 20

// NewClient makes a client for the agent on socket.
func NewClient(socket string, agentCommand []string, agentLog string) *Client {
	client := &Client{Socket: socket, AgentCommand: agentCommand, AgentLog: agentLog}
	client.http = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "unix", socket)
			if err != nil {
				return nil, err
			}
			pid, err := servedByMe(c, socket)
			if err != nil {
				c.Close()
				return nil, err
			}
			if uc, ok := c.(*net.UnixConn); ok {
				uc.SetReadBuffer(socketBuffer)
			}
			client.agentPID.Store(int64(pid))
			return c, nil
		},
		MaxIdleConnsPerHost: 4,
		DisableCompression:  true,
	}}
	return client
}

// stoppedAfter is how long a request waits before the client looks at
// whether the agent is stopped.
const stoppedAfter = 3 * time.Second

// sayIfStopped tells Notice, once, when the agent this request waits for
// is a stopped process (SIGSTOP, Ctrl-Z in its terminal, a debugger): it
// would answer nothing, ever, and the command would wait without a word.
// A busy agent is left to work. The returned func ends the watch.
func (c *Client) sayIfStopped() (done func()) {
	if c.Notice == nil {
		return func() {}
	}
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(stoppedAfter)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if pid := int(c.agentPID.Load()); pid > 0 && processStopped(pid) {
				c.Notice(fmt.Sprintf("the agent (process %d) is stopped (SIGSTOP, Ctrl-Z in its terminal, or a debugger) and answers nothing until it goes on: kill -CONT %d; this waits for it (Ctrl-C stops waiting)", pid, pid))
				return
			}
		}
	}()
	return func() { close(stop) }
}

// processStopped reports whether process pid is stopped or traced (its
// state in /proc, T or t).
func processStopped(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command's name, in parentheses that may hold
	// any byte: after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't')
}

// remoteError is an error the agent reported; it unwraps to the matching
// sentinel so callers can use errors.Is across the socket.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// do sends one request, starting the agent and trying again if it is not
// running. A request that may have reached the agent is sent again only if
// a repeat is harmless: a creating request carries a request ID (create)
// so that the agent answers a repeat with its first answer; reads,
// numbered chunks, seals and state changes are the same done twice. A move
// is not (the second finds its capture gone): it goes through once. When
// ctx ends, the request is hung up: the agent stops what it was doing for it.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body []byte, contentType string) (*http.Response, error) {
	return c.send(ctx, method, path, query, body, contentType, "")
}

// create is do for a request that creates something, under a fresh request ID.
func (c *Client) create(path string, query url.Values, in, out any) error {
	return c.createAs("", path, query, in, out)
}

// createAs is create under the caller's request ID, fresh if "": a caller
// that retries the creation itself sends each retry under the same one.
func (c *Client) createAs(request, path string, query url.Values, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	if request == "" {
		request = model.NewRequestID()
	}
	resp, err := c.send(context.Background(), "POST", path, query, body, "application/json", request)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeResponse(resp, out)
}

func (c *Client) send(ctx context.Context, method, path string, query url.Values, body []byte, contentType, request string) (*http.Response, error) {
	u := "http://calm" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var lastErr error
	var movedSince time.Time
	for attempt := 0; attempt < 3; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if request != "" && request != onlyOnce {
			req.Header.Set(requestHeader, request)
		}
		waited := c.sayIfStopped()
		resp, err := c.http.Do(req)
		waited()
		if err == nil && storeMoving(resp) && request != onlyOnce {
			// Refused, not done, while the agent writes its store's file
			// back: once it has, it stops, and the next agent (or this
			// one, if the write-back failed) takes the request.
			if movedSince.IsZero() {
				movedSince = time.Now()
			}
			if time.Since(movedSince) < movedPatience {
				resp.Body.Close()
				time.Sleep(200 * time.Millisecond)
				if err := c.StartAgent(); err != nil {
					return nil, fmt.Errorf("%w: %w", model.ErrNoAgent, err)
				}
				attempt--
				continue
			}
		}
		if err == nil {
			if w := resp.Header.Get(warningHeader); w != "" {
				c.warning.Store(&w)
			}
			return resp, nil
		}
		var foreign *foreignAgentError
		if errors.As(err, &foreign) {
			return nil, foreign // no agent of ours to start there: said as it is
		}
		if ctx.Err() != nil {
			return nil, ctx.Err() // hung up on purpose: no agent to start
		}
		// Any transport error may be a dead agent: start one if need be
		// and send again, unless a request that must not be repeated may
		// have reached it (anything but a failed dial).
		lastErr = err
		if c.AgentCommand == nil || attempt == 2 {
			break // no agent to start, or none would be asked
		}
		var op *net.OpError
		if request == onlyOnce && !(errors.As(err, &op) && op.Op == "dial") {
			return nil, fmt.Errorf("talk to the calm agent on %s: %w: the agent may have done it before it stopped ('calm status' shows)", c.Socket, err)
		}
		if err := c.StartAgent(); err != nil {
			return nil, fmt.Errorf("%w: %w", model.ErrNoAgent, err)
		}
	}
	return nil, fmt.Errorf("talk to the calm agent on %s: %w (run 'calm doctor')", c.Socket, lastErr)
}

// movedPatience is how long a request refused while the agent writes its
// store's file back is sent again: the copy of a large store takes a while.
const movedPatience = 2 * time.Minute

// storeMoving reports an answer that refused a write while the agent writes
// its store's file back (model.ErrStoreMoved).
func storeMoving(resp *http.Response) bool {
	return resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != ""
}

func (c *Client) call(method, path string, query url.Values, in, out any) error {
	return c.callContext(context.Background(), method, path, query, in, out)
}

// callContext is call for a request that ends with ctx.
func (c *Client) callContext(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	resp, err := c.do(ctx, method, path, query, body, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeResponse(resp, out)
}

func decodeResponse(resp *http.Response, out any) error {
	if resp.StatusCode >= 300 {
		var e apiError
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			return fmt.Errorf("the calm agent answered %s: %s", resp.Status, strings.TrimSpace(string(data)))
		}
		re := &remoteError{msg: e.Error}
		for _, k := range errorKinds {
			if k.kind == e.Kind {
				re.kind = k.err
			}
		}
		return re
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("read the calm agent's answer: %w", err)
	}
	// Read to its end (the newline after the object): a body closed before
	// its end costs the connection, and the next request a new one.
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

func refQuery(k, v string) url.Values { return url.Values{k: {v}} }

func (c *Client) NewIncident(title string) (inc model.Incident, err error) {
	err = c.create("/v1/incidents", nil, map[string]string{"Title": title}, &inc)
	return
}

func (c *Client) Incidents() (list []model.Incident, err error) {
	err = c.call("GET", "/v1/incidents", nil, nil, &list)
	return
}

func (c *Client) Incident(ref string) (inc model.Incident, err error) {
	err = c.call("GET", "/v1/incident", refQuery("ref", ref), nil, &inc)
	return
}

func (c *Client) UseIncident(ref string) (inc model.Incident, err error) {
	err = c.call("POST", "/v1/incident/use", refQuery("ref", ref), nil, &inc)
	return
}

func (c *Client) CloseIncident(ref string) (inc model.Incident, err error) {
	err = c.call("POST", "/v1/incident/close", refQuery("ref", ref), nil, &inc)
	return
}

func (c *Client) ReopenIncident(ref string) (inc model.Incident, err error) {
	err = c.call("POST", "/v1/incident/reopen", refQuery("ref", ref), nil, &inc)
	return
}

func (c *Client) MoveCapture(ref, to string) (cp model.Capture, err error) {
	resp, err := c.send(context.Background(), "POST", "/v1/captures/move", url.Values{"ref": {ref}, "to": {to}}, nil, "", onlyOnce)
	if err != nil {
		return cp, err
	}
	defer resp.Body.Close()
	err = decodeResponse(resp, &cp)
	return
}

// onlyOnce, as send's request, marks a request that is not sent again once
// it may have reached the agent.
const onlyOnce = "once"

func (c *Client) CurrentIncident() (inc model.Incident, err error) {
	err = c.create("/v1/incident/current", nil, nil, &inc)
	return
}

func (c *Client) CreateCapture(incident string, nc model.NewCapture) (cp model.Capture, err error) {
	err = c.createAs(nc.Request, "/v1/captures", refQuery("incident", incident), nc, &cp)
	return
}

func chunkQuery(incident, capture string, n uint64) url.Values {
	return url.Values{"incident": {incident}, "capture": {capture}, "n": {strconv.FormatUint(n, 10)}}
}

func (c *Client) PutChunk(incident, capture string, n uint64, data []byte) (uint64, error) {
	return committedIn(c.do(context.Background(), "PUT", "/v1/chunk", chunkQuery(incident, capture, n), data, "application/octet-stream"))
}

// committedIn reads the committed count a chunk's answer carries.
func committedIn(resp *http.Response, err error) (uint64, error) {
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct{ Committed uint64 }
	err = decodeResponse(resp, &out)
	return out.Committed, err
}

// ReadsSpools asks the agent, once, whether it reads spools itself: an agent
// started by an older calm answers the question as an unknown request.
func (c *Client) ReadsSpools() bool {
	c.spoolsOnce.Do(func() {
		resp, err := c.do(context.Background(), "GET", "/v1/spooled", nil, nil, "")
		if err != nil {
			return
		}
		defer resp.Body.Close()
		c.readsSpools = decodeResponse(resp, nil) == nil
	})
	return c.readsSpools
}

func (c *Client) PutSpooled(incident, capture string, n uint64, off int64, size int) (uint64, error) {
	v := chunkQuery(incident, capture, n)
	v.Set("off", strconv.FormatInt(off, 10))
	v.Set("size", strconv.Itoa(size))
	return committedIn(c.do(context.Background(), "PUT", "/v1/spooled", v, nil, ""))
}

func (c *Client) WaitCommitted(incident, capture string, n uint64) (uint64, error) {
	var out struct{ Committed uint64 }
	err := c.call("GET", "/v1/committed", chunkQuery(incident, capture, n), nil, &out)
	return out.Committed, err
}

func (c *Client) SealCapture(incident, capture string, s model.Seal) (cp model.Capture, err error) {
	err = c.call("POST", "/v1/seal", url.Values{"incident": {incident}, "capture": {capture}}, s, &cp)
	return
}

func (c *Client) FollowJournal(incident, session string) error {
	return c.call("POST", "/v1/follow", url.Values{"incident": {incident}, "capture": {session}}, nil, nil)
}

func (c *Client) SealJournal(incident, session string, size int64, cut string) (cp model.Capture, err error) {
	err = c.call("POST", "/v1/seal-journal", url.Values{"incident": {incident}, "capture": {session}, "size": {strconv.FormatInt(size, 10)}, "cut": {cut}}, nil, &cp)
	return
}

func (c *Client) Captures(incident string) (list []model.Capture, err error) {
	err = c.call("GET", "/v1/captures", refQuery("incident", incident), nil, &list)
	return
}

func (c *Client) Capture(ref string) (cp model.Capture, err error) {
	err = c.call("GET", "/v1/capture", refQuery("ref", ref), nil, &cp)
	return
}

func (c *Client) WriteContent(ctx context.Context, ref string, from int64, w io.Writer) error {
	q := refQuery("ref", ref)
	q.Set("from", strconv.FormatInt(from, 10))
	return c.stream(ctx, "/v1/content", q, w, "read capture "+ref)
}

func (c *Client) WriteText(ctx context.Context, ref string, w io.Writer) error {
	return c.stream(ctx, "/v1/text", refQuery("ref", ref), w, "read the text of "+ref)
}

// stream copies a GET's body to w.
func (c *Client) stream(ctx context.Context, path string, q url.Values, w io.Writer, what string) error {
	resp, err := c.do(ctx, "GET", path, q, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeResponse(resp, nil)
	}
	if n := resp.Header.Get("Calm-Notice"); n != "" && c.Notice != nil {
		c.Notice(n)
	}
	if _, err := io.CopyBuffer(w, resp.Body, make([]byte, 1<<20)); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func (c *Client) AddNote(incident, text string) (ev model.Event, err error) {
	err = c.create("/v1/notes", refQuery("incident", incident), map[string]string{"Text": text}, &ev)
	return
}

func (c *Client) AddEvent(incident, kind, item, text string) (ev model.Event, err error) {
	err = c.create("/v1/events", refQuery("incident", incident), map[string]string{"Kind": kind, "Item": item, "Text": text}, &ev)
	return
}

func (c *Client) AddMarker(incident, item, text string, at float64) (ev model.Event, err error) {
	body := map[string]any{"Item": item, "Text": text, "At": at}
	err = c.create("/v1/markers", refQuery("incident", incident), body, &ev)
	return
}

func (c *Client) Events(incident string) (list []model.Event, err error) {
	err = c.call("GET", "/v1/events", refQuery("incident", incident), nil, &list)
	return
}

func (c *Client) Search(ctx context.Context, q model.SearchQuery, each func(model.Match) error) error {
	return c.SearchLines(ctx, q, func(h model.LineHit) error {
		return each(model.Match{Incident: h.Incident, Item: h.Item, Line: h.Line, Text: string(h.Text)})
	})
}

// SearchLines is Search handing out each line's text as read, before any
// copy.
func (c *Client) SearchLines(ctx context.Context, q model.SearchQuery, each func(model.LineHit) error) error {
	body, _ := json.Marshal(q)
	resp, err := c.do(ctx, "POST", "/v1/search", nil, body, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeResponse(resp, nil)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 256<<10), 2*storage.MaxLine)
	sc.Split(wholeLines)
	var lastInc, lastItem string
	for sc.Scan() {
		b := sc.Bytes()
		if len(b) > 0 && b[0] == 0 {
			return errors.New(string(b[1:]))
		}
		if len(b) > 0 && b[0] == 1 {
			if q.Notice != nil {
				q.Notice(string(b[1:]))
			} else if c.Notice != nil {
				c.Notice(string(b[1:]))
			}
			continue
		}
		var fields [3][]byte
		rest := b
		for k := range fields {
			i := bytes.IndexByte(rest, '\t')
			if i < 0 {
				return fmt.Errorf("read search results: a malformed line %q", b)
			}
			fields[k], rest = rest[:i], rest[i+1:]
		}
		n, err := strconv.ParseInt(string(fields[2]), 10, 64)
		if err != nil {
			return fmt.Errorf("read search results: a malformed line %q", b)
		}
		if string(fields[0]) != lastInc { // compared without a copy
			lastInc = string(fields[0])
		}
		if string(fields[1]) != lastItem {
			lastItem = string(fields[1])
		}
		if err := each(model.LineHit{Incident: lastInc, Item: lastItem, Line: n, Text: rest}); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err() // the scan ended because the request was hung up
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("the agent stopped answering while it searched (%v): its log is %s; search again, which starts one", err, c.AgentLog)
	}
	return nil
}

// wholeLines splits the agent's answer into its lines, each ended by a
// line feed. An answer that ends inside a line was cut short (the agent
// died): that part of a line is no line, and no hit.
func wholeLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return 0, nil, errCutShort
	}
	return 0, nil, nil
}

var errCutShort = errors.New("its answer ends inside a line")

func (c *Client) Verify(ctx context.Context, incident string) (rep model.VerifyReport, err error) {
	err = c.callContext(ctx, "POST", "/v1/verify", refQuery("incident", incident), nil, &rep)
	return
}

// RepairCopies has the agent write again every failed file copy of the
// incident's captures ("" for all) from the store's copy.
func (c *Client) RepairCopies(incident string) (done []storage.Repaired, err error) {
	err = c.call("POST", "/v1/repair", refQuery("incident", incident), nil, &done)
	return
}

func (c *Client) Check() (rep model.CheckReport, err error) {
	err = c.call("GET", "/v1/check", nil, nil, &rep)
	return
}

// Status asks the agent who it is.
func (c *Client) Status() (st map[string]any, err error) {
	err = c.call("GET", "/v1/status", nil, nil, &st)
	return
}

// Close releases idle connections; the agent goes on.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// answers reports whether an agent of this user accepts connections on the
// socket.
func (c *Client) answers() bool {
	conn, err := net.DialTimeout("unix", c.Socket, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_, err = servedByMe(conn, c.Socket)
	return err == nil
}

// StoppedAgent is the pid of this user's agent on the socket when that
// process is stopped (SIGSTOP, a debugger): it answers nothing until it goes
// on. 0 otherwise.
func (c *Client) StoppedAgent() int {
	conn, err := net.DialTimeout("unix", c.Socket, time.Second)
	if err != nil {
		return 0
	}
	defer conn.Close()
	if pid, err := servedByMe(conn, c.Socket); err == nil && pid > 0 && processStopped(pid) {
		return pid
	}
	return 0
}

// foreignAgentError is a socket served by another user's process.
type foreignAgentError struct {
	socket   string
	uid, pid int
}

func (e *foreignAgentError) Error() string {
	return fmt.Sprintf("the agent socket %s is served by another user (uid %d, pid %d), not you (uid %d): calm sends nothing there; remove the socket, or check XDG_RUNTIME_DIR and CALM_SOCKET", e.socket, e.uid, e.pid, os.Getuid())
}

// servedByMe checks that the process at the socket's other end runs as this
// user: the socket's folder may be another user's (a shared
// XDG_RUNTIME_DIR, su without -), and what calm sends carries production
// output, and what it reads back is what a restore is built from.
func servedByMe(conn net.Conn, socket string) (pid int, err error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return 0, nil
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if credErr != nil {
		return 0, fmt.Errorf("who serves the agent socket %s: %w", socket, credErr)
	}
	if int(cred.Uid) != os.Getuid() {
		return 0, &foreignAgentError{socket: socket, uid: int(cred.Uid), pid: int(cred.Pid)}
	}
	return int(cred.Pid), nil
}

// StartAgent starts the agent unless one answers. A lock file serialises
// starters, so two commands starting at once end up with one agent.
func (c *Client) StartAgent() error {
	if c.answers() {
		return nil
	}
	if c.AgentCommand == nil {
		return fmt.Errorf("no calm agent answers on %s: start one with 'calm agent'", c.Socket)
	}
	if err := EnsurePrivateDir(filepath.Dir(c.Socket)); err != nil {
		return err
	}
	lock, err := os.OpenFile(c.Socket+".lock", os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("start the calm agent: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("start the calm agent: lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if c.answers() {
		return nil // another command started it while we waited
	}
	return c.spawn()
}

// spawn runs the agent detached and waits for its one-line report on fd 3:
// "ok", or the reason it could not start.
func (c *Client) spawn() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(c.AgentCommand[0], append(c.AgentCommand[1:], "--ready-fd", "3")...)
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if c.AgentLog != "" {
		if err := os.MkdirAll(filepath.Dir(c.AgentLog), 0o700); err == nil {
			// Never through a symlink: the log holds what the agent says of
			// production output.
			if f, err := os.OpenFile(c.AgentLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW, 0o600); err == nil {
				defer f.Close()
				cmd.Stdout, cmd.Stderr = f, f
			}
		}
	}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start the calm agent (%s): %w", c.AgentCommand[0], err)
	}
	w.Close()
	go func() { _ = cmd.Wait() }() // reap it if it exits while we live

	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case s := <-line:
		if s == "ok" {
			return nil
		}
		if s == "" {
			s = "it exited without saying why; see " + c.AgentLog
		}
		if strings.Contains(s, "in use by another process") {
			// An agent holds the store: one that won a race to start, or
			// one whose socket was deleted, which it binds again within
			// its next tick. Wait for it to answer.
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if c.answers() {
					return nil
				}
			}
		}
		if strings.Contains(s, model.ErrDamaged.Error()) {
			// Retrying cannot help: say so at once.
			return &remoteError{msg: "the calm agent could not start: " + s, kind: model.ErrDamaged}
		}
		return fmt.Errorf("the calm agent could not start: %s", s)
	case <-time.After(15 * time.Second):
		return fmt.Errorf("the calm agent did not start within 15s; see %s", c.AgentLog)
	}
}

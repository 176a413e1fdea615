// Package model holds calm's data model: incidents, their captures and
// sessions, copies and timeline events, the Store interface over them, the
// errors a caller can act on, and the CaptureWriter that sends a capture to
// any Store; it imports nothing but the standard library.
package model

import (
	"cmp"
	"fmt"
	"os"
	"os/user"
	"time"
)

// SchemaVersion is the version of calm's records as a store keeps them,
// written into every store; a store with a newer version is refused rather
// than misread.
const SchemaVersion = 1

// Incident is one on-call incident: everything captured while responding to it.
type Incident struct {
	ID     string    `json:"id"`
	Title  string    `json:"title"`
	Opened time.Time `json:"opened"`
	Closed time.Time `json:"closed,omitzero"`
}

// IsOpen reports whether the incident has not been closed.
func (i Incident) IsOpen() bool { return i.Closed.IsZero() }

// Capture states.
const (
	CaptureOpen   = "open"   // chunks are still arriving
	CaptureSealed = "sealed" // every chunk stored and its SHA-256 checked
)

// Copy states.
const (
	CopyVerified = "verified" // written, read back and its SHA-256 matched
	CopyPending  = "pending"  // not yet written
	CopyFailed   = "failed"   // could not be written
	CopyMissing  = "missing"  // was verified once, is gone now
	CopyMismatch = "mismatch" // read back with another SHA-256
)

// Copy kinds.
const (
	CopyStore    = "store"    // the record inside the bbolt file
	CopyEvidence = "evidence" // evidence/<incident>/<capture>.txt next to the store
	CopyMirror   = "mirror"   // the same file under a configured mirror folder
	CopyRemote   = "remote"   // an object in an S3-compatible bucket
)

// Copy is one independent copy of a capture's bytes and what its last
// read-back found.
type Copy struct {
	Kind     string    `json:"kind"`
	Location string    `json:"location"`
	State    string    `json:"state"`
	SHA256   string    `json:"sha256,omitempty"` // what the read-back hashed to
	Verified time.Time `json:"verified,omitzero"`
	Error    string    `json:"error,omitempty"`
	// Device is where the copy lives: a file system's device number
	// ("dev:8:1") or an S3 bucket ("s3:BUCKET"). Copies on one device fail
	// together, so they are counted as one place.
	Device string `json:"device,omitempty"`
}

// Capture is a saved piece of output: a tee, a scrollback snapshot, a
// clipboard, a selection.
type Capture struct {
	Incident string    `json:"incident"`
	ID       string    `json:"id"` // c1, c2, ... inside its incident
	Title    string    `json:"title"`
	Source   string    `json:"source"`            // tee, snap, clip, selection, ...
	Session  string    `json:"session,omitempty"` // the session it was taken in, if any
	Created  time.Time `json:"created"`
	State    string    `json:"state"`
	Size     int64     `json:"size"`
	Chunks   uint64    `json:"chunks"`
	SHA256   string    `json:"sha256,omitempty"`
	Sealed   time.Time `json:"sealed,omitzero"`
	Copies   []Copy    `json:"copies,omitempty"`
	// Recording describes a recorded session (s1, s2, ...), whose bytes are
	// an asciicast v2 stream.
	Recording *Recording `json:"recording,omitempty"`
	// Text is what a person saw of a session (its output through a terminal
	// emulator: progress bars settled, erased lines gone, colours as SGR),
	// derived once at seal for view and search.
	Text *DerivedText `json:"text,omitempty"`
	// Lines is the text search matches in a capture that is not a session:
	// each line of its output as sanitised, one for one, derived once after
	// seal so that a search reads plain text instead of sanitising as it goes.
	Lines *DerivedText `json:"lines,omitempty"`
	// Interrupted says why a capture was sealed before its end (a signal,
	// its writer gone): it holds exactly what was stored, hashed and copied,
	// but not everything its source had.
	Interrupted string `json:"interrupted,omitempty"`
	// Warning is what its source said about a hole in it, for example a tmux
	// pane whose history limit had already dropped older lines.
	Warning string `json:"warning,omitempty"`
	// Writer is the process sending the capture (Host, PID and its start
	// time): the store seals the capture as interrupted once it is gone.
	Writer *Writer `json:"writer,omitempty"`
	// Waiting, on a capture not sealed, says what its seal waits for (room
	// on the disk). The agent sets it on what it answers; it is never stored.
	Waiting string `json:"waiting,omitempty"`
	// Streaming, on a capture not sealed, says its writer (calm tee) still
	// runs on the agent's machine. Set by the agent too, never stored.
	Streaming bool `json:"streaming,omitempty"`
	// SoFar, on a capture streaming, is how much its writer has read so
	// far (its spool's size). Set by the agent too, never stored.
	SoFar int64 `json:"so_far,omitempty"`
}

// Writer identifies the process that sends a capture, across PID reuse.
type Writer struct {
	Host  string `json:"host"`
	PID   int    `json:"pid"`
	Start uint64 `json:"start"` // /proc/PID/stat's starttime
}

// Partial reports whether the capture was sealed before its end.
func (c Capture) Partial() bool { return c.Interrupted != "" }

// SizeSoFar is how much a capture holds: its size once sealed; before, what
// a tee has read, or what a session's journal holds (on this host), as its
// size comes only with the seal. journal says it is a journal's size.
func (c Capture) SizeSoFar() (size int64, journal bool) {
	switch {
	case c.State == CaptureSealed:
		return c.Size, false
	case c.Streaming && c.SoFar > 0:
		return c.SoFar, false
	case c.Recording != nil && c.Recording.JournalSize > 0:
		return c.Recording.JournalSize, true
	case c.Recording != nil:
		if fi, err := os.Stat(c.Recording.Journal); err == nil {
			return fi.Size(), true
		}
	}
	return c.Size, false
}

// DerivedText describes text derived from a capture: a session's view, or a
// capture's search lines.
type DerivedText struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Reading is the reading of output the text was derived with: lines
	// derived with an older one are derived again.
	Reading int `json:"reading,omitempty"`
}

// TextReading is today's reading of a session's text (what a person saw):
// 1: a wide character that wrapped leaves no blank in the line; 2: rows
// that wrapped before a resize join without the new width's blanks, and
// the marks of every script take no column. A text derived with an older
// one is derived again.
const TextReading = 2

// LinesReading is today's reading of a capture's lines for search: each as
// a terminal shows it (2: a line written over itself is what the screen
// shows, not the text after its last carriage return; 3: with tab stops,
// wide and combining characters, and moves on an empty line; 4: the marks
// of every script take no column; 5: a carriage return inside a line parts
// what was written, ␍, rather than letting the rest write over it).
const LinesReading = 5

// SourceSession marks a recorded terminal session.
const SourceSession = "session"

// Recording is what calm knows of a recorded terminal.
type Recording struct {
	Command string `json:"command"`
	Host    string `json:"host,omitempty"`
	User    string `json:"user,omitempty"`
	Cols    int    `json:"cols"`
	Rows    int    `json:"rows"`
	Journal string `json:"journal,omitempty"` // the recorder's own copy
	// JournalSize is the journal's length once the recorder has closed it;
	// 0 while it records.
	JournalSize int64 `json:"journal_size,omitempty"`
	// Recorder is the recording process on Host: when it is gone without
	// closing the journal (killed), the store seals what the journal holds.
	Recorder int `json:"recorder,omitempty"`
	// Cut says why the journal ended before the session did (the recorder
	// killed, the journal unwritable); the session is sealed interrupted.
	Cut string `json:"cut,omitempty"`
	// Start is when the recording's clock began: its events' times count
	// from it. The cast header holds it in whole seconds only.
	Start time.Time `json:"start,omitzero"`
}

// At is the wall-clock time of a point at seconds into the recording, and
// whether the recording says when it began.
func (r *Recording) At(seconds float64) (time.Time, bool) {
	if r == nil || r.Start.IsZero() {
		return time.Time{}, false
	}
	return r.Start.Add(time.Duration(seconds * float64(time.Second))), true
}

// VerifiedCopies counts the copies whose last read-back matched.
func (c Capture) VerifiedCopies() int {
	n := 0
	for _, cp := range c.Copies {
		if cp.State == CopyVerified {
			n++
		}
	}
	return n
}

// Devices counts the distinct devices (or buckets) that hold a verified copy.
func (c Capture) Devices() int {
	var d DeviceCount
	for _, cp := range c.Copies {
		d.Add(cp)
	}
	return d.Len()
}

// DeviceCount counts the distinct devices (or buckets) of verified copies.
// A copy whose device is unknown may lie on any of the others, so it never
// counts as one more: "on 2 devices" is said only of two known ones.
type DeviceCount struct {
	known   map[string]bool
	unknown bool
}

// Add counts cp's device if cp is verified.
func (d *DeviceCount) Add(cp Copy) {
	switch {
	case cp.State != CopyVerified:
	case cp.Device == "":
		d.unknown = true
	default:
		if d.known == nil {
			d.known = map[string]bool{}
		}
		d.known[cp.Device] = true
	}
}

// Len is how many distinct devices hold the copies added: at least one
// when any was verified.
func (d DeviceCount) Len() int {
	if len(d.known) == 0 && d.unknown {
		return 1
	}
	return len(d.known)
}

// CopiesSummary says how many copies are verified and on how many devices,
// for one line of status: "2 of 2 copies verified, on 1 device".
func (c Capture) CopiesSummary() string {
	return fmt.Sprintf("%d of %d copies verified, on %s", c.VerifiedCopies(), len(c.Copies), Plural(c.Devices(), "device"))
}

// StateLine is the capture's state in a few words: what a person must know
// before trusting it.
func (c Capture) StateLine() string {
	switch {
	case c.State != CaptureSealed && c.Waiting != "":
		return "UNSEALED: " + c.Waiting
	case c.State != CaptureSealed && c.Recording != nil && c.Recording.JournalSize == 0:
		return "RECORDING: its journal holds what it recorded so far; its size, SHA-256 and copies come when it ends"
	case c.State != CaptureSealed && c.Streaming:
		return "STREAMING: its writer is still writing it; its copies are made when it ends"
	case c.State != CaptureSealed:
		return "UNSEALED: still being written, or its writer died (the agent seals it)"
	case c.Partial():
		return "INTERRUPTED: " + c.Interrupted + "; partial, " + c.CopiesSummary()
	}
	return c.CopiesSummary()
}

// Event kinds on the timeline.
const (
	EventOpen      = "open"
	EventClose     = "close"
	EventReopen    = "reopen"
	EventMove      = "move" // a capture moved between incidents (Item: its ID in this one)
	EventCapture   = "capture"
	EventCopy      = "copy"
	EventNote      = "note"
	EventVerify    = "verify"
	EventExport    = "export"
	EventMarker    = "marker"    // a destructive command was submitted
	EventChecklist = "checklist" // the incident's checklist was chosen (Item: its name)
	EventStep      = "step"      // a step was ticked or unticked (Item: the step's id)
	EventMessage   = "message"   // a team message was composed, copied or posted
	EventDiff      = "diff"      // two items were compared (Item: the after one)
)

// Event is one entry of an incident's timeline.
type Event struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	Item string    `json:"item,omitempty"` // the capture or session it concerns
	Text string    `json:"text"`
	// At is, for a marker, the place in the session's asciicast stream
	// (seconds since its start) just before the command it marks.
	At float64 `json:"at,omitempty"`
}

// NewCapture is what a client says about a capture it is about to send.
type NewCapture struct {
	Title     string     `json:"title"`
	Source    string     `json:"source"`
	Session   string     `json:"session,omitempty"`
	Recording *Recording `json:"recording,omitempty"`
	Warning   string     `json:"warning,omitempty"`
	Writer    *Writer    `json:"writer,omitempty"`
	// Request names this creation for as long as its creator retries it: a
	// store that created the capture but whose answer was lost (an agent
	// killed after its commit) answers a repeat with the same capture, not
	// a second one. NewCaptureWriter sets it.
	Request string `json:"-"`
}

// Seal is what a client computed over everything it sent.
type Seal struct {
	Chunks uint64 `json:"chunks"`
	Size   int64  `json:"size"`
	// SHA256 is what the writer computed; empty from a writer whose store
	// read its spool (UseSpool), which the store compares byte for byte.
	SHA256 string `json:"sha256"`
	// Interrupted, when set, seals what was sent so far as a partial
	// capture and says why (a signal).
	Interrupted string `json:"interrupted,omitempty"`
}

// Match is one line found by Search.
type Match struct {
	Incident string `json:"incident"`
	Item     string `json:"item"`
	Line     int64  `json:"line"` // 1-based
	Text     string `json:"text"` // the line with terminal controls removed
}

// LineHit is a Match as a search hands it out, before any copy: Text is
// valid only during the call it is given to.
type LineHit struct {
	Incident, Item string
	Line           int64
	Text           []byte
}

// SearchQuery selects lines across captures.
type SearchQuery struct {
	Pattern    string `json:"pattern"`
	Literal    bool   `json:"literal"`
	IgnoreCase bool   `json:"ignore_case"`
	Incident   string `json:"incident,omitempty"` // empty: every incident
	// Items, when given, are the only captures searched (c3, INCIDENT/c3),
	// in this order, as grep's FILE arguments.
	Items []string `json:"items,omitempty"`
	Limit int      `json:"limit,omitempty"`
	// PerCapture stops each capture's search after this many lines (grep's
	// -m, which counts per file); 0: no limit.
	PerCapture int `json:"per_capture,omitempty"`
	// NoText: the lines found are wanted without their text (grep -c, -l).
	NoText bool `json:"no_text,omitempty"`
	// Notice hears which verified copy was searched when the store's own
	// copy of a capture is damaged (nil: the store's Options.Notice).
	Notice func(string) `json:"-"`
}

// Problem is one copy that failed verification.
type Problem struct {
	Incident string `json:"incident"`
	Capture  string `json:"capture"`
	Copy     Copy   `json:"copy"`
}

// VerifyReport is what `calm verify` found.
type VerifyReport struct {
	Captures int       `json:"captures"`
	Copies   int       `json:"copies"`
	Pending  int       `json:"pending,omitempty"` // remote copies not uploaded yet, or not readable now
	Problems []Problem `json:"problems,omitempty"`
	// Manifests are the copy folders whose SHA256SUMS is missing or wrong:
	// not capture copies, but what a person checks them with by hand.
	Manifests []Problem `json:"manifests,omitempty"`
	// Timelines are the incidents whose timeline copy (timeline.jsonl in
	// the evidence folder) lacks events the store holds, or is unreadable.
	Timelines []Problem `json:"timelines,omitempty"`
	// Records are the capture records kept beside copies (C.meta.json: its
	// title, source, times, for a salvage) that cannot be read as the
	// record of that copy.
	Records []Problem `json:"records,omitempty"`
	// Devices counts the distinct devices (or buckets) holding verified copies.
	Devices int `json:"devices"`
	// Interrupted lists sealed captures that hold only part of their source
	// ("INCIDENT/ID: why"); Unsealed, captures and sessions not sealed yet
	// whose writer is not known to be alive ("INCIDENT/ID", or
	// "INCIDENT/ID: why" when the store knows what the seal waits for);
	// Recording, sessions whose recorder is still writing their journal,
	// which the store follows, and Streaming, captures whose writer (calm
	// tee) still runs on this machine: their copies come when they end, and
	// that is not a failure.
	Interrupted []string `json:"interrupted,omitempty"`
	Unsealed    []string `json:"unsealed,omitempty"`
	Recording   []string `json:"recording,omitempty"`
	Streaming   []string `json:"streaming,omitempty"`
	// Forgotten names mirror folders older captures were copied to that the
	// agent does not copy to now, with the captures that lack a copy there.
	Forgotten []string `json:"forgotten,omitempty"`
	// PendingWhy is why pending copies are (a bucket's error, as the
	// uploader or this verify last had it), each reason once, a few.
	PendingWhy []string `json:"pending_why,omitempty"`
	// Bundle is the bundle file checked, when the store is one under
	// review: its files against its SHA256SUMS, not the origin's copies.
	Bundle string `json:"bundle,omitempty"`
	// NotRecorded is why the store could not record what this verify
	// found (a full disk): the copies were read back all the same.
	NotRecorded string `json:"not_recorded,omitempty"`
}

// CheckReport is the store's consistency check.
type CheckReport struct {
	Path     string   `json:"path"`
	Schema   int      `json:"schema"`
	Size     int64    `json:"size"`
	Problems []string `json:"problems,omitempty"`
	// Evidence lists where the store and its evidence folder disagree:
	// incidents or timeline events one has and the other lacks.
	Evidence []string `json:"evidence,omitempty"`
	// Gone says how the store's path no longer leads to the file the agent
	// has open ("deleted while open", ...), or is empty. RescueFailed is why
	// writing that file back failed, if it did.
	Gone         string `json:"gone,omitempty"`
	RescueFailed string `json:"rescue_failed,omitempty"`
	// Strays are the files in the journal folder holding output the store
	// never took, each as "PATH (SIZE)".
	Strays []string `json:"strays,omitempty"`
}

// Who is who does something here, user@host, as a tick or a note records
// it: $USER, else $LOGNAME, else the account the process runs as.
func Who() string {
	name := cmp.Or(os.Getenv("USER"), os.Getenv("LOGNAME"))
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	host, _ := os.Hostname()
	return cmp.Or(name, "someone") + "@" + host
}

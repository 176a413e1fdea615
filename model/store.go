package model

import (
	"context"
	"io"
)

// Store is everything calm does with its data. storage.DB implements it on a
// bbolt file; agent.Client implements it by asking the agent.
//
// The calls that read a capture's bytes or every copy (WriteContent,
// WriteText, Search, Verify) take a context: when it ends, they stop and
// return its error, and through the agent, the request is hung up so the
// agent stops too.
type Store interface {
	StoreReader
	StoreWriter
	Close() error
}

// StoreReader is the half of a Store that only looks: what a viewer, a report
// or a search needs.
type StoreReader interface {
	Incidents() ([]Incident, error)
	// Incident resolves a reference (an ID or a unique prefix; "" means the
	// current incident).
	Incident(ref string) (Incident, error)

	// WaitCommitted blocks until at least n chunks are committed, or returns
	// the current count after a short time.
	WaitCommitted(incident, capture string, n uint64) (committed uint64, err error)
	Captures(incident string) ([]Capture, error)
	Capture(ref string) (Capture, error)
	// WriteContent writes a capture's committed bytes from byte offset from,
	// exactly as captured; a viewer following a live session asks only for
	// what is new.
	WriteContent(ctx context.Context, ref string, from int64, w io.Writer) error
	// WriteText writes what a person saw of a session (its derived text;
	// the output as recorded until that exists), or a capture's bytes.
	WriteText(ctx context.Context, ref string, w io.Writer) error

	Events(incident string) ([]Event, error)

	Search(ctx context.Context, q SearchQuery, each func(Match) error) error
	Check() (CheckReport, error)
}

// LineSearcher is a Store that hands out a search's lines without copying
// each into a Match: what grep-like output of millions of lines needs.
type LineSearcher interface {
	SearchLines(ctx context.Context, q SearchQuery, each func(LineHit) error) error
}

// StoreWriter is the half of a Store that changes it: incidents opened and
// closed, captures sent and sealed, events added, copies verified.
type StoreWriter interface {
	NewIncident(title string) (Incident, error)
	UseIncident(ref string) (Incident, error)
	CloseIncident(ref string) (Incident, error)
	// CurrentIncident returns the incident in use, opening one named by the
	// time when none is open: capturing never waits for ceremony.
	CurrentIncident() (Incident, error)

	CreateCapture(incident string, c NewCapture) (Capture, error)
	// PutChunk stores chunk n of a capture. It returns how many chunks from the
	// start are committed (acknowledged); n itself may not be yet.
	PutChunk(incident, capture string, n uint64, data []byte) (committed uint64, err error)
	// SealCapture checks the capture against what the client computed, writes
	// and verifies every copy, and only then returns.
	SealCapture(incident, capture string, s Seal) (Capture, error)
	// FollowJournal has the store take a recorded session's bytes from its
	// journal file (Recording.Journal) as the recorder writes it. Calling it
	// again is harmless: a recorder does, to keep a restarted agent following.
	FollowJournal(incident, session string) error
	// SealJournal says the recorder closed the journal at size bytes; the
	// store takes the rest and seals the session in the background. cut,
	// when set, says why the journal ended before the session did (it could
	// not be written): the session is sealed as interrupted, for that.
	SealJournal(incident, session string, size int64, cut string) (Capture, error)

	AddNote(incident, text string) (Event, error)
	// AddMarker puts a marker on the timeline at a place in a session.
	AddMarker(incident, item, text string, at float64) (Event, error)
	// AddEvent records what a client did: a checklist chosen, a step ticked
	// or unticked, a team message, an export. Kinds the store writes itself
	// (capture, copy, marker) are refused.
	AddEvent(incident, kind, item, text string) (Event, error)

	// Verify reads back and hashes every copy of every sealed capture of the
	// incident ("" for all incidents), and records what it found.
	Verify(ctx context.Context, incident string) (VerifyReport, error)
}

// SpoolingStore is a Store that reads a spooling tee's bytes from its spool
// itself (CaptureWriter.UseSpool).
type SpoolingStore interface {
	// ReadsSpools says whether this store can: an agent started by an older
	// calm cannot.
	ReadsSpools() bool
	// PutSpooled is PutChunk for a tee capture whose writer spools what it
	// reads: chunk n is the size bytes at off in that spool, which the store
	// finds by the capture's writer and reads itself, so the bytes never
	// cross the socket.
	PutSpooled(incident, capture string, n uint64, off int64, size int) (committed uint64, err error)
}

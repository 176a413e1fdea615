package model

import (
	"errors"
	"fmt"
)

// Errors a caller can act on. They cross the agent's socket as status codes,
// so a caller tests them with errors.Is whichever Store it holds.
var (
	// ErrNotFound: no incident, capture or session answers to the reference.
	ErrNotFound = errors.New("not found")
	// ErrAmbiguous: a reference's prefix matches more than one incident.
	ErrAmbiguous = errors.New("ambiguous")
	// ErrInvalid: the request is malformed (a bad ID, a refused event kind).
	ErrInvalid = errors.New("invalid request")
	// ErrConflict: the request contradicts what the store holds (a capture
	// already sealed, a chunk missing or come too late).
	ErrConflict = errors.New("conflict")
	// ErrDamaged: the store's file or a record in it cannot be read.
	ErrDamaged = errors.New("store is damaged")
	// ErrNoSpace: the disk holding the store is full.
	ErrNoSpace = errors.New("no space left on the store's disk")
	// ErrNoAgent: no agent answers and none could be started; retrying
	// the request cannot help.
	ErrNoAgent = errors.New("no calm agent")
	// ErrStoreMoved: the store's file was deleted or replaced while the
	// agent had it open, and the agent is writing what it holds back in
	// place. The write was refused, not lost: the client sends it again,
	// to the agent that opens the file written back.
	ErrStoreMoved = errors.New("the store's file was deleted or replaced while open")
)

// Errorf is an error of one of the kinds above (ErrNotFound, ErrInvalid...)
// whose message is the sentence format makes, nothing added: errors.Is
// finds the kind, and a person reads "no incident matches "x"" rather than
// "... : not found". A %w in format is wrapped too.
func Errorf(kind error, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &kindError{err: err, kind: kind}
}

type kindError struct {
	err  error // the message, and what it wraps
	kind error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

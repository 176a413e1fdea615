package model

import "errors"

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
)

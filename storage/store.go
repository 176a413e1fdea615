package storage

import "calm/model"

// Store is everything calm does with its data (model.Store). *DB implements
// it on a bbolt file; agent.Client implements it by asking the agent.
type Store = model.Store

var _ Store = (*DB)(nil)

// Errors a caller can act on (model's). They cross the agent's socket as
// status codes.
var (
	ErrNotFound  = model.ErrNotFound
	ErrAmbiguous = model.ErrAmbiguous
	ErrInvalid   = model.ErrInvalid
	ErrConflict  = model.ErrConflict
	ErrDamaged   = model.ErrDamaged
	ErrNoSpace   = model.ErrNoSpace
	ErrNoAgent   = model.ErrNoAgent
	// ErrStoreMoved is a write refused while the store's file is written
	// back (RescueIfGone).
	ErrStoreMoved = model.ErrStoreMoved
)

// errorf is an error of one of these kinds whose message is only the
// sentence given, the kind's word not added (model.Errorf).
var errorf = model.Errorf

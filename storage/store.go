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
)

// Package storage owns calm's bytes at rest: the bbolt store (a model.Store),
// fed by clients' chunks and by the recorders' journals, and the verified
// copies of every capture beside it, in mirrors and in S3, with the search,
// repair and salvage that read them.
package storage

import "calm/model"

// SchemaVersion is written into every store (model.SchemaVersion).
const SchemaVersion = model.SchemaVersion

// ChunkSize is the size of the chunks a capture travels and is stored in
// (model.ChunkSize).
const ChunkSize = model.ChunkSize

// The data model lives in package model, which imports nothing but the
// standard library; these names keep storage's callers and its own code
// reading as they did.
type (
	Incident     = model.Incident
	Copy         = model.Copy
	Capture      = model.Capture
	Writer       = model.Writer
	DerivedText  = model.DerivedText
	Recording    = model.Recording
	Event        = model.Event
	NewCapture   = model.NewCapture
	Seal         = model.Seal
	Match        = model.Match
	SearchQuery  = model.SearchQuery
	Problem      = model.Problem
	VerifyReport = model.VerifyReport
	CheckReport  = model.CheckReport
	DeviceCount  = model.DeviceCount
)

// Capture states.
const (
	CaptureOpen   = model.CaptureOpen
	CaptureSealed = model.CaptureSealed
)

// Copy states.
const (
	CopyVerified = model.CopyVerified
	CopyPending  = model.CopyPending
	CopyFailed   = model.CopyFailed
	CopyMissing  = model.CopyMissing
	CopyMismatch = model.CopyMismatch
)

// Copy kinds.
const (
	CopyStore    = model.CopyStore
	CopyEvidence = model.CopyEvidence
	CopyMirror   = model.CopyMirror
	CopyRemote   = model.CopyRemote
)

// SourceSession marks a recorded terminal session.
const SourceSession = model.SourceSession

// Event kinds on the timeline.
const (
	EventOpen      = model.EventOpen
	EventClose     = model.EventClose
	EventReopen    = model.EventReopen
	EventMove      = model.EventMove
	EventCapture   = model.EventCapture
	EventCopy      = model.EventCopy
	EventNote      = model.EventNote
	EventVerify    = model.EventVerify
	EventExport    = model.EventExport
	EventMarker    = model.EventMarker
	EventChecklist = model.EventChecklist
	EventStep      = model.EventStep
	EventMessage   = model.EventMessage
	EventDiff      = model.EventDiff
)

// clientEvents are the kinds AddEvent accepts.
var clientEvents = map[string]bool{EventChecklist: true, EventStep: true, EventMessage: true, EventExport: true, EventNote: true, EventDiff: true}

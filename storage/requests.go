package storage

import (
	"encoding/binary"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A creating request (an incident, a capture, a note, an event, a marker)
// carries an ID the client made. Its answer is committed in the same
// transaction as what it created, so a client that lost the answer (the
// agent died after the commit) and sends the request again gets the first
// answer, and nothing is created twice.

// Request is the DB as one creating request of a client sees it: the agent
// passes the ID the client put on the request, so that a repeat of it gets
// the first answer. "" is a request that is never repeated.
type Request struct {
	db *DB
	id string
}

// Request returns the DB as the request with this ID sees it.
func (db *DB) Request(id string) Request { return Request{db, id} }

// NewIncident is DB.NewIncident, answered once for the request.
func (r Request) NewIncident(title string) (Incident, error) { return r.db.newIncident(r.id, title) }

// CurrentIncident is DB.CurrentIncident, answered once for the request (it
// may open an incident).
func (r Request) CurrentIncident() (Incident, error) { return r.db.currentIncident(r.id) }

// CreateCapture is DB.CreateCapture, answered once for the request.
func (r Request) CreateCapture(incident string, nc NewCapture) (Capture, error) {
	return r.db.createCapture(r.id, incident, nc)
}

// AddNote is DB.AddNote, answered once for the request.
func (r Request) AddNote(incident, text string) (Event, error) {
	return r.db.addNote(r.id, incident, text)
}

// AddEvent is DB.AddEvent, answered once for the request.
func (r Request) AddEvent(incident, kind, item, text string) (Event, error) {
	return r.db.addClientEvent(r.id, incident, kind, item, text)
}

// AddMarker is DB.AddMarker, answered once for the request.
func (r Request) AddMarker(incident, item, text string, at float64) (Event, error) {
	return r.db.addMarker(r.id, incident, item, text, at)
}

// requestsKept is how long a request's answer is kept for a repeat.
const requestsKept = 24 * time.Hour

var bucketRequests = []byte("requests")

// updateOnce runs f in a write transaction unless the request already ran,
// in which case out gets the answer it gave then. out must be what f fills.
func (db *DB) updateOnce(request string, out any, f func(tx *bolt.Tx) error) error {
	if request == "" {
		return db.update(f)
	}
	return db.update(func(tx *bolt.Tx) error {
		reqs, err := tx.CreateBucketIfNotExists(bucketRequests)
		if err != nil {
			return err
		}
		if v := reqs.Get([]byte(request)); len(v) >= 8 {
			return json.Unmarshal(v[8:], out)
		}
		if err := f(tx); err != nil {
			return err
		}
		answer, err := json.Marshal(out)
		if err != nil {
			return err
		}
		rec := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(answer)), uint64(db.opts.Now().Unix()))
		return reqs.Put([]byte(request), append(rec, answer...))
	})
}

// forgetOldRequests drops answers older than requestsKept at now.
func (db *DB) forgetOldRequests(now time.Time) error {
	cutoff := uint64(now.Add(-requestsKept).Unix())
	return db.update(func(tx *bolt.Tx) error {
		reqs := tx.Bucket(bucketRequests)
		if reqs == nil {
			return nil
		}
		var old [][]byte
		_ = reqs.ForEach(func(k, v []byte) error {
			if len(v) < 8 || binary.BigEndian.Uint64(v) < cutoff {
				old = append(old, k)
			}
			return nil
		})
		for _, k := range old {
			if err := reqs.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

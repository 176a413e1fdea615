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

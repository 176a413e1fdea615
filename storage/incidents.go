package storage

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"calm/model"
)

// captureLike is a capture's or a session's ID, typed where an incident's
// belongs.
var captureLike = regexp.MustCompile(`^[cs][0-9]+$`)

func incidentBucket(tx *bolt.Tx, id string) (*bolt.Bucket, error) {
	b := tx.Bucket(bucketIncidents).Bucket([]byte(id))
	if b == nil {
		return nil, errorf(ErrNotFound, "incident %s not found", id)
	}
	return b, nil
}

func readIncident(b *bolt.Bucket) (Incident, error) {
	var inc Incident
	v := b.Get(keyRecord)
	if v == nil {
		return inc, fmt.Errorf("%w: incident without a record", ErrDamaged)
	}
	if err := json.Unmarshal(v, &inc); err != nil {
		return inc, fmt.Errorf("%w: incident record: %v", ErrDamaged, err)
	}
	return inc, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

const idAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

func newIncidentID(now time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	var sb strings.Builder
	sb.WriteString(now.UTC().Format("20060102"))
	sb.WriteByte('-')
	for _, x := range r {
		sb.WriteByte(idAlphabet[int(x)%len(idAlphabet)])
	}
	return sb.String()
}

func (db *DB) createIncident(tx *bolt.Tx, title string) (Incident, error) {
	now := db.opts.Now().UTC()
	if strings.TrimSpace(title) == "" {
		title = "incident at " + now.Format("2006-01-02 15:04 UTC")
	}
	all := tx.Bucket(bucketIncidents)
	id := newIncidentID(now)
	for all.Bucket([]byte(id)) != nil {
		id = newIncidentID(now)
	}
	b, err := all.CreateBucket([]byte(id))
	if err != nil {
		return Incident{}, err
	}
	inc := Incident{ID: id, Title: title, Opened: now}
	if err := putJSON(b, keyRecord, inc); err != nil {
		return inc, err
	}
	if _, err := db.addEvent(b, EventOpen, "", "opened: "+title); err != nil {
		return inc, err
	}
	return inc, db.setCurrent(tx, id) // timeline.go
}

// NewIncident opens an incident and makes it the current one.
func (db *DB) NewIncident(title string) (Incident, error) { return db.newIncident("", title) }

func (db *DB) newIncident(request, title string) (inc Incident, err error) {
	err = db.updateOnce(request, &inc, func(tx *bolt.Tx) error {
		inc, err = db.createIncident(tx, title)
		return err
	})
	return inc, err
}

// Incidents lists every incident, oldest first.
func (db *DB) Incidents() (list []Incident, err error) {
	err = db.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIncidents).ForEachBucket(func(k []byte) error {
			inc, err := readIncident(tx.Bucket(bucketIncidents).Bucket(k))
			if err != nil {
				return err
			}
			list = append(list, inc)
			return nil
		})
	})
	return list, err
}

// resolveIncident finds an incident by ID, unique prefix, or the part after
// the date; "" is the current incident.
func resolveIncident(tx *bolt.Tx, ref string) (string, error) {
	if ref == "" {
		cur := tx.Bucket(bucketMeta).Get(keyCurrent)
		if cur == nil {
			return "", errorf(ErrNotFound, "no current incident: start one with 'calm incident new TITLE' or name one (see 'calm incident list')")
		}
		return string(cur), nil
	}
	all := tx.Bucket(bucketIncidents)
	if all.Bucket([]byte(ref)) != nil {
		return ref, nil
	}
	var found, near []string
	_ = all.ForEachBucket(func(k []byte) error {
		id := string(k)
		_, suffix, _ := strings.Cut(id, "-")
		if strings.HasPrefix(id, ref) || strings.HasPrefix(suffix, ref) {
			found = append(found, id)
		}
		if model.EditDistance(ref, id) <= 2 || len(ref) <= len(suffix)+1 && len(ref) >= 3 && model.EditDistance(ref, suffix) <= 1 {
			near = append(near, id) // a typo: 20261203-nb58 for 20261203-nb5x
		}
		return nil
	})
	switch len(found) {
	case 0:
		if captureLike.MatchString(ref) {
			return "", errorf(ErrNotFound, "no incident matches %q: that is a capture's ID, and this takes an incident's (see 'calm incident list'; 'calm show %s' shows the capture)", ref, ref)
		}
		if len(near) > 0 && len(near) <= 3 {
			return "", errorf(ErrNotFound, "no incident matches %q: did you mean %s? (see 'calm incident list')", ref, strings.Join(near, " or "))
		}
		return "", errorf(ErrNotFound, "no incident matches %q (see 'calm incident list')", ref)
	case 1:
		return found[0], nil
	}
	return "", errorf(ErrAmbiguous, "%q matches %d incidents (%s): type more of it", ref, len(found), strings.Join(found, ", "))
}

// incidentIn resolves an incident reference to its bucket and ID.
func incidentIn(tx *bolt.Tx, ref string) (*bolt.Bucket, string, error) {
	id, err := resolveIncident(tx, ref)
	if err != nil {
		return nil, "", err
	}
	b, err := incidentBucket(tx, id)
	return b, id, err
}

// Incident resolves a reference to an incident.
func (db *DB) Incident(ref string) (inc Incident, err error) {
	err = db.view(func(tx *bolt.Tx) error {
		b, _, err := incidentIn(tx, ref)
		if err != nil {
			return err
		}
		inc, err = readIncident(b)
		return err
	})
	return inc, err
}

// UseIncident makes an incident the current one.
func (db *DB) UseIncident(ref string) (inc Incident, err error) {
	err = db.update(func(tx *bolt.Tx) error {
		b, id, err := incidentIn(tx, ref)
		if err != nil {
			return err
		}
		if inc, err = readIncident(b); err != nil {
			return err
		}
		return db.setCurrent(tx, id)
	})
	return inc, err
}

// CloseIncident marks an incident closed; it stays readable.
func (db *DB) CloseIncident(ref string) (inc Incident, err error) {
	err = db.update(func(tx *bolt.Tx) error {
		b, _, err := incidentIn(tx, ref)
		if err != nil {
			return err
		}
		if inc, err = readIncident(b); err != nil {
			return err
		}
		if !inc.IsOpen() {
			return nil
		}
		inc.Closed = db.opts.Now().UTC()
		if err := putJSON(b, keyRecord, inc); err != nil {
			return err
		}
		_, err = db.addEvent(b, EventClose, "", "closed")
		return err
	})
	return inc, err
}

// ReopenIncident opens a closed incident again and makes it current: the
// work on it goes on (a second look, a capture that belongs to it).
func (db *DB) ReopenIncident(ref string) (inc Incident, err error) {
	err = db.update(func(tx *bolt.Tx) error {
		b, id, err := incidentIn(tx, ref)
		if err != nil {
			return err
		}
		if inc, err = readIncident(b); err != nil {
			return err
		}
		if !inc.IsOpen() {
			inc.Closed = time.Time{}
			if err := putJSON(b, keyRecord, inc); err != nil {
				return err
			}
			if _, err := db.addEvent(b, EventReopen, "", "reopened"); err != nil {
				return err
			}
		}
		return db.setCurrent(tx, id)
	})
	return inc, err
}

// CurrentIncident returns the current incident, opening one when none is open.
func (db *DB) CurrentIncident() (Incident, error) { return db.currentIncident("") }

func (db *DB) currentIncident(request string) (inc Incident, err error) {
	err = db.updateOnce(request, &inc, func(tx *bolt.Tx) error {
		if cur := tx.Bucket(bucketMeta).Get(keyCurrent); cur != nil {
			if b := tx.Bucket(bucketIncidents).Bucket(cur); b != nil {
				if inc, err = readIncident(b); err != nil {
					return err
				}
				if inc.IsOpen() {
					return nil
				}
			}
		}
		inc, err = db.createIncident(tx, "")
		return err
	})
	return inc, err
}

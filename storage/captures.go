package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"calm/sanitize"
)

// itemKey maps an item ID to its bucket and key: captures are c1, c2, ...
// and recorded sessions s1, s2, ..., each numbered inside their incident.
func itemKey(id string) (bucket []byte, n uint64, err error) {
	if len(id) >= 2 {
		switch id[0] {
		case 'c':
			bucket = bucketCaptures
		case 's':
			bucket = bucketSessions
		}
	}
	n, perr := strconv.ParseUint(id[min(1, len(id)):], 10, 64)
	if bucket == nil || perr != nil || n == 0 {
		return nil, 0, errorf(ErrInvalid, "%q is not a capture or session ID (they look like c3 or s1)", id)
	}
	return bucket, n, nil
}

// FileName is the name of the item's file copies: sessions are asciicast.
func FileName(id string) string {
	if strings.HasPrefix(id, "s") {
		return id + ".cast"
	}
	return id + ".txt"
}

func readCapture(b *bolt.Bucket, id string) (Capture, error) {
	var c Capture
	name, n, err := itemKey(id)
	if err != nil {
		return c, err
	}
	var v []byte
	if items := b.Bucket(name); items != nil {
		v = items.Get(u64(n))
	}
	if v == nil {
		return c, errorf(ErrNotFound, "%s %s not found", kindName(id), id)
	}
	if err := json.Unmarshal(v, &c); err != nil {
		return c, fmt.Errorf("%w: %s record: %v", ErrDamaged, id, err)
	}
	return c, nil
}

func kindName(id string) string {
	if strings.HasPrefix(id, "s") {
		return "session"
	}
	return "capture"
}

// changeCapture reads a capture's record, lets change alter it (and add
// events to its incident's bucket b) and writes it back, in one
// transaction; a change that returns false writes nothing.
func (db *DB) changeCapture(incident, id string, change func(b *bolt.Bucket, c *Capture) (bool, error)) (c Capture, err error) {
	err = db.update(func(tx *bolt.Tx) error {
		b, err := incidentBucket(tx, incident)
		if err != nil {
			return err
		}
		if c, err = readCapture(b, id); err != nil {
			return err
		}
		changed, err := change(b, &c)
		if err != nil || !changed {
			return err
		}
		return writeCapture(b, c)
	})
	return c, err
}

func writeCapture(b *bolt.Bucket, c Capture) error {
	name, n, err := itemKey(c.ID)
	if err != nil {
		return err
	}
	items, err := b.CreateBucketIfNotExists(name)
	if err != nil {
		return err
	}
	return putJSON(items, u64(n), c)
}

// SplitRef splits "INCIDENT/c3" or "c3".
func SplitRef(ref string) (incident, item string) {
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		return ref[:i], ref[i+1:]
	}
	return "", ref
}

// CreateCapture starts a capture in an incident ("" is the current one, opened
// if need be).
func (db *DB) CreateCapture(incident string, nc NewCapture) (Capture, error) {
	return db.createCapture("", incident, nc)
}

func (db *DB) createCapture(request, incident string, nc NewCapture) (c Capture, err error) {
	err = db.updateOnce(request, &c, func(tx *bolt.Tx) error {
		var id string
		if incident == "" {
			cur := tx.Bucket(bucketMeta).Get(keyCurrent)
			if cur != nil {
				if b := tx.Bucket(bucketIncidents).Bucket(cur); b != nil {
					if inc, err := readIncident(b); err == nil && inc.IsOpen() {
						id = string(cur)
					}
				}
			}
			if id == "" {
				inc, err := db.createIncident(tx, "")
				if err != nil {
					return err
				}
				id = inc.ID
			}
		} else if id, err = resolveIncident(tx, incident); err != nil {
			return err
		}
		b, err := incidentBucket(tx, id)
		if err != nil {
			return err
		}
		bucket, letter := bucketCaptures, "c"
		if nc.Source == SourceSession {
			bucket, letter = bucketSessions, "s"
		}
		items, err := b.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		n, err := items.NextSequence()
		if err != nil {
			return err
		}
		title := strings.TrimSpace(nc.Title)
		c = Capture{
			Incident: id, ID: letter + strconv.FormatUint(n, 10), Title: title, Source: nc.Source,
			Session: nc.Session, Created: db.opts.Now().UTC(), State: CaptureOpen, Recording: nc.Recording,
			Warning: strings.TrimSpace(nc.Warning), Writer: nc.Writer,
		}
		if !sanitize.Shows(c.Title) { // $'\e[31m' alone is no title either
			c.Title = c.Source + " at " + c.Created.Format("15:04:05")
		}
		chunks, err := b.CreateBucketIfNotExists(bucketChunks)
		if err != nil {
			return err
		}
		if _, err := chunks.CreateBucket([]byte(c.ID)); err != nil {
			return err
		}
		return writeCapture(b, c)
	})
	return c, err
}

// Captures lists an incident's captures in order.
func (db *DB) Captures(incident string) (list []Capture, err error) {
	err = db.view(func(tx *bolt.Tx) error {
		b, _, err := incidentIn(tx, incident)
		if err != nil {
			return err
		}
		list, err = capturesOf(b)
		return err
	})
	return list, err
}

// capturesOf lists an incident's captures, then its sessions.
func capturesOf(b *bolt.Bucket) ([]Capture, error) {
	var list []Capture
	for _, name := range [][]byte{bucketCaptures, bucketSessions} {
		items := b.Bucket(name)
		if items == nil {
			continue
		}
		err := items.ForEach(func(_, v []byte) error {
			var c Capture
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("%w: %s record: %v", ErrDamaged, name, err)
			}
			list = append(list, c)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return list, nil
}

// Capture resolves "c3" (current incident) or "INCIDENT/c3".
func (db *DB) Capture(ref string) (c Capture, err error) {
	incRef, item := SplitRef(ref)
	err = db.view(func(tx *bolt.Tx) error {
		b, id, err := incidentIn(tx, incRef)
		if err != nil {
			return err
		}
		c, err = readCapture(b, item)
		if errors.Is(err, ErrNotFound) {
			return errorf(ErrNotFound, "%s %s not found in incident %s", kindName(item), item, id)
		}
		return err
	})
	return c, err
}

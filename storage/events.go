package storage

import (
	"encoding/json"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

func (db *DB) addEvent(b *bolt.Bucket, kind, item, text string) (Event, error) {
	return db.putEvent(b, Event{Time: db.opts.Now().UTC(), Kind: kind, Item: item, Text: text})
}

// AddNote adds a note to an incident's timeline.
func (db *DB) AddNote(incident, text string) (Event, error) { return db.addNote("", incident, text) }

func (db *DB) addNote(request, incident, text string) (ev Event, err error) {
	if strings.TrimSpace(text) == "" {
		return ev, errorf(ErrInvalid, "the note is empty")
	}
	err = db.updateOnce(request, &ev, func(tx *bolt.Tx) error {
		b, _, err := incidentIn(tx, incident)
		if err != nil {
			return err
		}
		ev, err = db.addEvent(b, EventNote, "", text)
		return err
	})
	return ev, err
}

// AddEvent records a client's event on the incident's timeline.
func (db *DB) AddEvent(incident, kind, item, text string) (Event, error) {
	return db.addClientEvent("", incident, kind, item, text)
}

func (db *DB) addClientEvent(request, incident, kind, item, text string) (ev Event, err error) {
	if !clientEvents[kind] {
		return ev, errorf(ErrInvalid, "event kind %q cannot be added by a client", kind)
	}
	err = db.updateOnce(request, &ev, func(tx *bolt.Tx) error {
		b, _, err := incidentIn(tx, incident)
		if err != nil {
			return err
		}
		if kind == EventStep && strings.HasPrefix(text, "ticked ") {
			// Two ticks asked at once (a shell and the TUI) each read the
			// same step as current: the second finds it done here, where
			// writes take turns.
			if last, ok := lastStepEvent(b, item); ok && strings.HasPrefix(last.Text, "ticked ") {
				return errorf(ErrConflict, "nothing was ticked: step %q was ticked already (%s at %s)", item, last.Text, last.Time.Format("15:04:05 UTC"))
			}
		}
		if kind == EventStep && strings.HasPrefix(text, "unticked ") {
			// Two unticks at once (u pressed twice, or a shell beside the
			// TUI) each read the same step as the last done: one untick.
			if last, ok := lastStepEvent(b, item); !ok || strings.HasPrefix(last.Text, "unticked ") {
				return errorf(ErrConflict, "nothing was unticked: step %q is not ticked (unticked already, or never ticked)", item)
			}
		}
		ev, err = db.addEvent(b, kind, item, text)
		return err
	})
	return ev, err
}

// lastStepEvent is the latest tick or untick of step item (whichever
// checklist it was in, as the checklist's state reads them).
func lastStepEvent(b *bolt.Bucket, item string) (last Event, found bool) {
	events := b.Bucket(bucketEvents)
	if events == nil {
		return last, false
	}
	events.ForEach(func(_, v []byte) error {
		var ev Event
		if json.Unmarshal(v, &ev) != nil {
			return nil
		}
		if ev.Kind == EventStep && ev.Item == item {
			last, found = ev, true
		}
		return nil
	})
	return last, found
}

// AddMarker adds a marker pointing into a session.
func (db *DB) AddMarker(incident, item, text string, at float64) (Event, error) {
	return db.addMarker("", incident, item, text, at)
}

func (db *DB) addMarker(request, incident, item, text string, at float64) (ev Event, err error) {
	err = db.updateOnce(request, &ev, func(tx *bolt.Tx) error {
		b, _, err := incidentIn(tx, incident)
		if err != nil {
			return err
		}
		c, err := readCapture(b, item)
		if err != nil {
			return err
		}
		// The marker is when its line was entered, not when the recorder
		// got round to telling the store.
		when, ok := c.Recording.At(at)
		if !ok {
			when = db.opts.Now()
		}
		ev, err = db.putEvent(b, Event{Time: when.UTC(), Kind: EventMarker, Item: item, Text: text, At: at})
		return err
	})
	return ev, err
}

// Events returns an incident's timeline in order.
func (db *DB) Events(incident string) (list []Event, err error) {
	err = db.view(func(tx *bolt.Tx) error {
		b, _, err := incidentIn(tx, incident)
		if err != nil {
			return err
		}
		events := b.Bucket(bucketEvents)
		if events == nil {
			return nil
		}
		return events.ForEach(func(_, v []byte) error {
			var ev Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return fmt.Errorf("%w: event: %v", ErrDamaged, err)
			}
			list = append(list, ev)
			return nil
		})
	})
	return list, err
}

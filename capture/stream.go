package capture

import (
	"strings"
	"sync"
	"time"

	"calm/model"
)

// recording keeps the store following a recorder's journal. It never
// touches the journal's bytes: the agent reads the file itself, at idle
// priority, so the shell's output never waits for the store. It makes the
// session, asks the store to follow the journal (again every second, which
// also starts a new agent if the old one died), sends markers, and at the
// end says where the journal ends.
type recording struct {
	store    model.Store
	incident string
	nc       model.NewCapture

	mu      sync.Mutex
	session *model.Capture
	lastErr error // why the store did not make the session, if it did not
	markers []pendingMarker
	done    chan struct{} // closed when the recorder has stopped
	stopped chan struct{} // closed when run has returned
}

type pendingMarker struct {
	text string
	at   float64
}

// heartbeat is how often a recorder reminds the store to follow its journal.
const heartbeat = time.Second

func newRecording(s model.Store, incident string, nc model.NewCapture) *recording {
	if nc.Request == "" {
		nc.Request = model.NewRequestID() // tryCreate's retries are one creation
	}
	return &recording{store: s, incident: incident, nc: nc, done: make(chan struct{}), stopped: make(chan struct{})}
}

// tryCreate makes the session in the store once and has the store follow
// the journal; it returns the session's reference, or "" if the store is not
// reachable yet.
func (r *recording) tryCreate() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.session == nil {
		c, err := r.store.CreateCapture(r.incident, r.nc)
		if err != nil {
			r.lastErr = err
			return ""
		}
		r.session = &c
		_ = r.store.FollowJournal(c.Incident, c.ID) // the heartbeat asks again
	}
	return r.session.Incident + "/" + r.session.ID
}

func (r *recording) mark(text string, at float64) {
	r.mu.Lock()
	r.markers = append(r.markers, pendingMarker{text, at})
	r.mu.Unlock()
}

func (r *recording) sendMarkers() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.markers) > 0 && r.session != nil {
		m := r.markers[0]
		if _, err := r.store.AddMarker(r.session.Incident, r.session.ID, m.text, m.at); err != nil {
			return // tried again on the next beat
		}
		r.markers = r.markers[1:]
	}
}

// run keeps the store following until the recorder stops.
func (r *recording) run() {
	defer close(r.stopped)
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		if r.tryCreate() != "" {
			r.mu.Lock()
			c := *r.session
			r.mu.Unlock()
			_ = r.store.FollowJournal(c.Incident, c.ID)
			r.sendMarkers()
		}
		select {
		case <-r.done:
			return
		case <-tick.C:
		}
	}
}

var errNoStore = storeError("the calm agent never answered")

type storeError string

func (e storeError) Error() string { return string(e) }

// finish tells the store the journal is closed at size bytes, cut short for
// the reason given if cut is set. The store seals the session in the
// background; the returned capture is the session as it stands.
func (r *recording) finish(size int64, cut string) (model.Capture, error) {
	close(r.done)
	<-r.stopped
	if r.tryCreate() == "" {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.lastErr != nil {
			// Why, in one line: a damaged store is no silent agent.
			return model.Capture{}, storeError(strings.Join(strings.Fields(r.lastErr.Error()), " "))
		}
		return model.Capture{}, errNoStore
	}
	r.sendMarkers()
	r.mu.Lock()
	c := *r.session
	r.mu.Unlock()
	// An agent killed again and again is started and asked again, as a
	// writer's requests are: telling it where the journal ends is the same
	// done twice.
	var sealed model.Capture
	err := model.RetryWithin(model.RetryFor, func() (err error) {
		sealed, err = r.store.SealJournal(c.Incident, c.ID, size, cut)
		return err
	})
	return sealed, err
}

package capture

import (
	"io"
	"os"
	"sync"
	"time"

	"calm/storage"
)

// streamer follows a journal file and sends its bytes to the store as a
// session. Reading from the file, not from memory, bounds what it holds and
// lets it fall behind (an agent restarting) without ever holding up the shell.
type streamer struct {
	store    storage.Store
	incident string
	nc       storage.NewCapture
	journal  *Journal

	mu      sync.Mutex
	w       *storage.CaptureWriter
	markers []pendingMarker
	done    chan struct{} // closed when the shell has exited
	result  chan result
}

type pendingMarker struct {
	text string
	at   float64
}

type result struct {
	c   storage.Capture
	err error
}

func newStreamer(s storage.Store, incident string, nc storage.NewCapture, j *Journal) *streamer {
	return &streamer{store: s, incident: incident, nc: nc, journal: j, done: make(chan struct{}), result: make(chan result, 1)}
}

// tryCreate makes the session in the store once; it returns its reference, or
// "" if the store is not reachable yet.
func (s *streamer) tryCreate() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w != nil {
		return s.w.Capture.Incident + "/" + s.w.Capture.ID
	}
	c, err := s.store.CreateCapture(s.incident, s.nc)
	if err != nil {
		return ""
	}
	s.w = storage.AttachCaptureWriter(s.store, c)
	s.w.RetryFor = 24 * time.Hour // the journal holds everything meanwhile
	return c.Incident + "/" + c.ID
}

func (s *streamer) mark(text string, at float64) {
	s.mu.Lock()
	s.markers = append(s.markers, pendingMarker{text, at})
	s.mu.Unlock()
}

func (s *streamer) sendMarkers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.markers) > 0 && s.w != nil {
		m := s.markers[0]
		if _, err := s.store.AddMarker(s.w.Capture.Incident, s.w.Capture.ID, m.text, m.at); err != nil {
			return // tried again on the next round
		}
		s.markers = s.markers[1:]
	}
}

// run tails the journal until the shell exits and the file is read to its end.
func (s *streamer) run() {
	f, err := os.Open(s.journal.Path())
	if err != nil {
		s.result <- result{err: err}
		return
	}
	defer f.Close()
	buf := make([]byte, 256<<10)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	finished := false
	for {
		if s.w == nil && s.tryCreate() == "" {
			if finished {
				s.result <- result{err: errNoStore}
				return
			}
			select {
			case <-time.After(time.Second):
			case <-s.done:
				finished = true
			}
			continue
		}
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := s.w.Write(buf[:n]); werr != nil {
				s.result <- result{err: werr}
				return
			}
			continue
		}
		if err != nil && err != io.EOF {
			s.result <- result{err: err}
			return
		}
		// At the end of what the journal holds: send it, then wait for more.
		s.w.Flush()
		s.sendMarkers()
		if finished {
			c, err := s.w.Close()
			s.result <- result{c, err}
			return
		}
		select {
		case <-s.journal.Changed():
		case <-tick.C:
		case <-s.done:
			finished = true // read once more to the end: the journal is closed now
		}
	}
}

var errNoStore = storeError("the calm agent never answered")

type storeError string

func (e storeError) Error() string { return string(e) }

// finish tells the streamer the shell is done and waits for the seal.
func (s *streamer) finish() (storage.Capture, error) {
	close(s.done)
	r := <-s.result
	return r.c, r.err
}

package ui

import (
	"fmt"
	"time"
)

var replaySpeeds = []float64{1, 2, 5, 10, 50, 200}

// replay plays the open session in the viewer from the cursor's time, as it
// appeared, at a chosen speed; pressed again it stops.
func (u *UI) replay() {
	u.mu.Lock()
	if u.replayStop != nil {
		close(u.replayStop)
		u.replayStop = nil
		u.mu.Unlock()
		u.viewer.SetLimit(-1)
		u.setStatus("replay stopped")
		return
	}
	u.mu.Unlock()
	d := u.viewer.Doc()
	start, timed := d.Time(u.viewer.Cursor())
	if !timed {
		u.setStatus("replay needs a recorded session")
		return
	}
	if done, _, _ := d.State(); !done {
		u.setStatus("wait until the session has loaded")
		return
	}
	stop := make(chan struct{})
	u.mu.Lock()
	u.replayStop = stop
	speed := replaySpeeds[u.replaySpeed]
	u.mu.Unlock()
	virtual := start
	u.viewer.SetLimit(d.LineAt(virtual) + 1)
	limit := u.idleLimit()
	u.setStatus(fmt.Sprintf("replaying at %gx from %s UTC, pauses over %s cut to %s (+ and - change speed, p stops)", speed, start.UTC().Format("15:04:05"), limit, limit))
	u.background(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-stop:
				return
			case <-u.ctx.Done():
				return
			case now := <-t.C:
				u.mu.Lock()
				speed := replaySpeeds[u.replaySpeed]
				u.mu.Unlock()
				virtual = skipIdle(d, virtual, limit).Add(time.Duration(float64(now.Sub(last)) * speed))
				last = now
				n := d.LineAt(virtual)
				end := n >= d.Len()
				u.update(func() {
					if end {
						u.viewer.SetLimit(-1)
						u.mu.Lock()
						if u.replayStop == stop {
							u.replayStop = nil
						}
						u.mu.Unlock()
						u.setStatus("replay reached the end")
						return
					}
					u.viewer.SetLimit(n + 1)
				})
				if end {
					return
				}
			}
		}
	})
}

// defaultIdleLimit is how long a replay waits at most between two lines,
// as asciinema's idle_time_limit: a responder thinking for ten minutes
// should not make the review wait ten minutes.
const defaultIdleLimit = 2 * time.Second

func (u *UI) idleLimit() time.Duration {
	if u.opts.IdleLimit > 0 {
		return u.opts.IdleLimit
	}
	return defaultIdleLimit
}

// skipIdle moves a replay's clock over an idle gap: when the next line is
// more than limit away, the clock jumps to limit before it.
func skipIdle(d *Doc, virtual time.Time, limit time.Duration) time.Time {
	i := d.LineAfter(virtual)
	next, ok := d.Time(i)
	if !ok || i >= d.Len() {
		return virtual
	}
	if next.Sub(virtual) > limit {
		return next.Add(-limit)
	}
	return virtual
}

func (u *UI) replayFaster(faster bool) {
	u.mu.Lock()
	if faster {
		u.replaySpeed = min(u.replaySpeed+1, len(replaySpeeds)-1)
	} else {
		u.replaySpeed = max(u.replaySpeed-1, 0)
	}
	speed := replaySpeeds[u.replaySpeed]
	u.mu.Unlock()
	u.setStatus(fmt.Sprintf("replay speed %gx", speed))
}

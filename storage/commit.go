package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

type pendingChunk struct {
	incident, capture string
	n                 uint64
	data              []byte
}

// chunkProgress tracks which chunks of an open capture have committed.
type chunkProgress struct {
	next   uint64              // chunks 0..next-1 are committed
	ahead  map[uint64]struct{} // committed chunks beyond next
	sealed bool                // no chunk may be added
}

func (p *chunkProgress) add(n uint64) {
	if n < p.next {
		return
	}
	p.ahead[n] = struct{}{}
	for {
		if _, ok := p.ahead[p.next]; !ok {
			return
		}
		delete(p.ahead, p.next)
		p.next++
	}
}

func (p *chunkProgress) has(n uint64) bool {
	_, ok := p.ahead[n]
	return n < p.next || ok
}

func progressKey(incident, capture string) string { return incident + "/" + capture }

// loadProgress reads which chunks are committed for a capture; the caller
// holds db.mu.
func (db *DB) loadProgress(incident, capture string) (*chunkProgress, Capture, error) {
	var c Capture
	p := &chunkProgress{ahead: map[uint64]struct{}{}}
	err := db.view(func(tx *bolt.Tx) error {
		b, err := incidentBucket(tx, incident)
		if err != nil {
			return err
		}
		if c, err = readCapture(b, capture); err != nil {
			return err
		}
		if chunks := b.Bucket(bucketChunks); chunks != nil {
			if cb := chunks.Bucket([]byte(capture)); cb != nil {
				cur := cb.Cursor()
				for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
					p.add(binary.BigEndian.Uint64(k))
				}
			}
		}
		return nil
	})
	return p, c, err
}

func (db *DB) progressFor(incident, capture string) (*chunkProgress, error) {
	key := progressKey(incident, capture)
	if p := db.progress[key]; p != nil {
		return p, nil
	}
	p, c, err := db.loadProgress(incident, capture)
	if err != nil {
		return nil, err
	}
	if c.State == CaptureSealed {
		p = &chunkProgress{next: c.Chunks, ahead: map[uint64]struct{}{}, sealed: true}
	}
	db.progress[key] = p
	return p, nil
}

// PutChunk queues chunk n for the next commit and returns how many chunks from
// the start have committed.
func (db *DB) PutChunk(incident, capture string, n uint64, data []byte) (uint64, error) {
	return db.putChunk(incident, capture, n, data, false)
}

// putChunk is PutChunk; adopter says the store itself sends the chunk,
// from a dead writer's spool, when no client's may land any more.
func (db *DB) putChunk(incident, capture string, n uint64, data []byte, adopter bool) (uint64, error) {
	committed, fresh, err := db.acceptChunk(incident, capture, n, len(data), adopter)
	if err == nil && fresh {
		db.queueChunk(incident, capture, n, data)
	}
	return committed, err
}

// chunkEncoders is how many chunks the agent encodes at once beside their
// requests.
const chunkEncoders = 2

// PutChunkAnswered is PutChunk for the agent: answer hears the committed
// count as soon as the chunk is accepted, and the chunk is encoded and
// queued beside the request, so the client sends its next chunk while this
// one is compressed. fresh is false for a chunk already committed, which is
// not queued again. data is kept until done is called; while chunkEncoders
// chunks are being encoded, the call waits for one of them.
func (db *DB) PutChunkAnswered(incident, capture string, n uint64, data []byte, answer func(committed uint64, fresh bool, err error), done func()) {
	committed, fresh, err := db.acceptChunk(incident, capture, n, len(data), false)
	answer(committed, fresh, err)
	if err != nil || !fresh {
		done()
		return
	}
	db.encoders <- struct{}{}
	db.mu.Lock()
	if db.stopping() { // Close waits for the encoders counted before it began
		db.mu.Unlock()
		<-db.encoders
		done()
		return
	}
	db.encoding.Add(1)
	db.mu.Unlock()
	go func() {
		defer func() {
			<-db.encoders
			done()
			db.encoding.Done()
		}()
		db.queueChunk(incident, capture, n, data)
	}()
}

// acceptChunk checks that chunk n may be stored and returns the committed
// count. fresh is false for a chunk already committed. A fresh chunk counts
// as pending from here, so the caller must queue it.
func (db *DB) acceptChunk(incident, capture string, n uint64, size int, adopter bool) (committed uint64, fresh bool, err error) {
	if size > MaxChunk {
		return 0, false, errorf(ErrInvalid, "chunk of %d bytes is over the %d byte limit", size, MaxChunk)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	key := progressKey(incident, capture)
	p, err := db.progressFor(incident, capture)
	if err != nil {
		return 0, false, err
	}
	if err := db.failed[key]; err != nil {
		delete(db.failed, key)
		return p.next, false, err
	}
	if p.has(n) {
		return p.next, false, nil
	}
	if p.sealed {
		return p.next, false, errorf(ErrConflict, "capture %s/%s is sealed at %d chunks; chunk %d came too late", incident, capture, p.next, n)
	}
	if db.adopting[key] && !adopter {
		// A request the dead writer sent before it died, read only now: its
		// bytes are in the spool, which the store is storing itself, with
		// its own chunk boundaries.
		return p.next, false, errorf(ErrConflict, "capture %s/%s: its writer is gone and the store is taking what it read from its spool; chunk %d came too late", incident, capture, n)
	}
	db.pendingCount[key]++
	return p.next, true, nil
}

// queueChunk encodes data (which it never keeps) and queues it for the next
// commit, waiting while two batches already wait: memory stays bounded.
func (db *DB) queueChunk(incident, capture string, n uint64, data []byte) {
	data = encodeChunk(n, data)
	db.mu.Lock()
	defer db.mu.Unlock()
	for db.pendingBytes >= 2*db.opts.BatchBytes && !db.stopping() {
		db.cond.Wait()
	}
	db.pending = append(db.pending, pendingChunk{incident, capture, n, data})
	db.pendingBytes += len(data)
	db.queuedCount[progressKey(incident, capture)]++
	if db.waiters > 0 {
		db.cond.Broadcast() // a waiter may now want the commit (WaitCommitted)
	}
	if db.pendingBytes >= db.opts.BatchBytes {
		select {
		case db.kick <- struct{}{}:
		default:
		}
	}
}

// stopping reports whether Close has begun: no commit will make room.
func (db *DB) stopping() bool {
	select {
	case <-db.stop:
		return true
	default:
		return false
	}
}

// commitWait bounds WaitCommitted: chunks commit every 100ms, so a longer
// wait means they were lost (an agent restarted) and must be sent again.
const commitWait = 2 * time.Second

// WaitCommitted waits up to commitWait for n chunks to commit.
func (db *DB) WaitCommitted(incident, capture string, n uint64) (uint64, error) {
	select {
	case db.kick <- struct{}{}:
	default:
	}
	deadline := time.Now().Add(commitWait)
	timer := time.AfterFunc(commitWait, func() {
		db.mu.Lock()
		db.cond.Broadcast()
		db.mu.Unlock()
	})
	defer timer.Stop()
	db.mu.Lock()
	defer db.mu.Unlock()
	db.waiters++
	defer func() { db.waiters-- }()
	key := progressKey(incident, capture)
	for {
		p, err := db.progressFor(incident, capture)
		if err != nil {
			return 0, err
		}
		if err := db.failed[key]; err != nil {
			delete(db.failed, key)
			return p.next, err
		}
		// With nothing of this capture waiting to commit, more waiting cannot
		// help: the missing chunks were lost and must be sent again.
		if p.next >= n || db.pendingCount[key] == 0 || time.Now().After(deadline) {
			return p.next, nil
		}
		if db.queuedCount[key] >= db.pendingCount[key] {
			// All this capture's chunks are encoded: commit them now, not
			// at the next tick (a seal waits on the last few).
			select {
			case db.kick <- struct{}{}:
			default:
			}
		}
		db.cond.Wait()
	}
}

func (db *DB) committer() {
	defer close(db.done)
	tick := time.NewTicker(db.opts.Commit)
	defer tick.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-tick.C:
		case <-db.kick:
		}
		db.commitPending()
	}
}

// commitPending writes every waiting chunk in one transaction, then
// acknowledges them.
func (db *DB) commitPending() {
	db.commitMu.Lock()
	defer db.commitMu.Unlock()
	db.mu.Lock()
	batch := db.pending
	db.pending = nil
	db.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	err := db.update(func(tx *bolt.Tx) error {
		for _, pc := range batch {
			b, err := incidentBucket(tx, pc.incident)
			if err != nil {
				return err
			}
			cb := b.Bucket(bucketChunks).Bucket([]byte(pc.capture))
			if cb == nil {
				return errorf(ErrNotFound, "capture %s/%s has no chunk bucket", pc.incident, pc.capture)
			}
			cb.FillPercent = 1.0 // append-only
			if err := cb.Put(u64(pc.n), pc.data); err != nil {
				return err
			}
		}
		return nil
	})
	db.mu.Lock()
	touched := map[string]bool{}
	for _, pc := range batch {
		db.pendingBytes -= len(pc.data)
		key := progressKey(pc.incident, pc.capture)
		if db.pendingCount[key]--; db.pendingCount[key] <= 0 {
			delete(db.pendingCount, key)
		}
		if db.queuedCount[key]--; db.queuedCount[key] <= 0 {
			delete(db.queuedCount, key)
		}
		if err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				db.failed[key] = fmt.Errorf("%w (%s): free some space, then capture again", ErrNoSpace, filepath.Dir(db.opts.Path))
			} else {
				db.failed[key] = fmt.Errorf("store chunk: %w", err)
			}
			db.stoppedBy[key] = db.failed[key]
			continue
		}
		if p := db.progress[key]; p != nil {
			p.add(pc.n)
		}
		touched[key] = true
	}
	db.cond.Broadcast()
	db.mu.Unlock()
	for key := range touched {
		select {
		case db.copyQueue <- key:
		default: // the copier is behind; sealing catches it up
		}
	}
}

// eachChunk calls f with every chunk of a capture in order, one short read
// transaction per chunk, and f outside it: f may block (on a pipe, a slow
// client) or commit, and a read transaction held meanwhile would stop a
// commit that must grow the file's map, and with it every later reader. The
// slice is only valid during the call.
func (db *DB) eachChunk(incident, capture string, f func(n uint64, data []byte) error) error {
	return db.eachChunkFrom(incident, capture, nil, false, f)
}

// eachChunkToHash is eachChunk for a hash of the whole capture: a chunk that
// fails its CRC is handed over as it decoded, so that the hash differs,
// rather than ending the walk.
func (db *DB) eachChunkToHash(incident, capture string, f func(n uint64, data []byte) error) error {
	return db.eachChunkFrom(incident, capture, nil, true, f)
}

// eachChunkFrom is eachChunk where skip, given a chunk's decoded size, may
// pass over it without decoding it, and hashing is eachChunkToHash's.
func (db *DB) eachChunkFrom(incident, capture string, skip func(size int64) bool, hashing bool, f func(n uint64, data []byte) error) error {
	var n uint64
	var buf []byte
	for {
		var found, call bool
		var data []byte
		err := db.view(func(tx *bolt.Tx) error {
			v, err := storedChunk(tx, incident, capture, n)
			if v == nil || err != nil {
				return err
			}
			found = true
			if skip != nil {
				if size, err := chunkLen(v); err == nil && skip(size) {
					return nil
				}
			}
			data, err = decodeChunk(n, &buf, v)
			if errors.As(err, new(chunkSumError)) && hashing {
				err = nil
			}
			if err != nil {
				return fmt.Errorf("capture %s chunk %d: %w", capture, n, err)
			}
			if rawChunk(v) { // the file's own memory, gone with the transaction
				buf = append(buf[:0], data...)
				data = buf
			}
			call = true
			return nil
		})
		if err != nil || !found {
			return err
		}
		if call {
			if err := f(n, data); err != nil {
				return err
			}
		}
		n++
	}
}

// storedChunk is chunk n of a capture as stored (nil when there is none);
// it is valid only during the transaction.
func storedChunk(tx *bolt.Tx, incident, capture string, n uint64) ([]byte, error) {
	b, err := incidentBucket(tx, incident)
	if err != nil {
		return nil, err
	}
	chunks := b.Bucket(bucketChunks)
	if chunks == nil {
		return nil, nil
	}
	cb := chunks.Bucket([]byte(capture))
	if cb == nil {
		return nil, nil
	}
	return cb.Get(u64(n)), nil
}

// chunkKeys lists the numbers of a capture's stored chunks, in order.
func (db *DB) chunkKeys(incident, capture string) (keys []uint64, err error) {
	err = db.view(func(tx *bolt.Tx) error {
		b, err := incidentBucket(tx, incident)
		if err != nil {
			return err
		}
		if chunks := b.Bucket(bucketChunks); chunks != nil {
			if cb := chunks.Bucket([]byte(capture)); cb != nil {
				c := cb.Cursor()
				for k, _ := c.First(); k != nil; k, _ = c.Next() {
					keys = append(keys, binary.BigEndian.Uint64(k))
				}
			}
		}
		return nil
	})
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys, err
}

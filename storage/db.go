package storage

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Bucket layout:
//
//	meta/schema, meta/current
//	incidents/<incident id>/record          the Incident
//	incidents/<incident id>/captures/<n>    a Capture record, n = big-endian uint64
//	incidents/<incident id>/chunks/<cN>/<k> chunk k of capture cN, raw bytes
//	incidents/<incident id>/events/<seq>    an Event
var (
	bucketMeta      = []byte("meta")
	bucketIncidents = []byte("incidents")
	bucketCaptures  = []byte("captures")
	bucketSessions  = []byte("sessions")
	bucketChunks    = []byte("chunks")
	bucketEvents    = []byte("events")
	keySchema       = []byte("schema")
	keyCurrent      = []byte("current")
	keyRecord       = []byte("record")
)

// Options configure a DB.
type Options struct {
	Path        string   // the bbolt file
	EvidenceDir string   // default: "evidence" next to Path
	Mirrors     []string // folders that each get a verified copy
	Now         func() time.Time
	Commit      time.Duration                    // how long chunks may wait for a commit; default 100ms
	BatchBytes  int                              // commit sooner once this much waits; default 8 MiB
	StrictMode  bool                             // bbolt checks itself after every commit (tests)
	LockTimeout time.Duration                    // default 2s
	SkipCheck   bool                             // do not run the consistency check at open
	Remotes     []*Remote                        // S3-compatible buckets that get a copy of every capture
	Logf        func(format string, args ...any) // background work's failures; default: dropped
	// Derive turns a session's asciicast stream into the lines a person saw
	// (capture.DeriveText; the store cannot import capture). Nil: sessions
	// keep only their stream, and search reads the output in it.
	Derive func(cast io.Reader, text io.Writer) error
	// Notice hears which verified copy a read used when the store's own
	// copy of it is damaged (a UI or a test on the bbolt file); the agent
	// sends it to its client instead.
	Notice func(string)

	mmapSize int // bbolt's initial map; default 1 GiB (tests make it small to grow it)
}

// MaxChunk is the largest chunk a client may send.
const MaxChunk = 4 << 20

// DB is the Store on a bbolt file. Chunk writes are batched: a chunk is
// acknowledged (counted in "committed") only once the transaction holding it
// has committed.
type DB struct {
	bolt *bolt.DB
	opts Options

	commitMu sync.Mutex // one commit at a time
	sumsMu   sync.Mutex // one SHA256SUMS rewrite, and the seal record it names, at a time

	mu           sync.Mutex
	cond         *sync.Cond
	pending      []pendingChunk
	pendingBytes int
	pendingCount map[string]int            // pending chunks per capture
	progress     map[string]*chunkProgress // by incident/capture
	failed       map[string]error          // last commit failure, per capture
	copiers      map[string]*copier        // file copies being built, per capture
	copyQueue    chan string               // captures with newly committed chunks
	followers    map[string]*follower      // sessions taken from their journals

	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	remoteKick chan struct{} // wakes the uploader

	opened      os.FileInfo   // the file opened, to tell when it is deleted or replaced
	orphansDone chan struct{} // closed when watchOrphans has returned
	openedAt    time.Time     // captures created before, open and with no writer, were left by an earlier run
	warnOnce    sync.Once
	warning     string // see Warning

	damage  atomic.Pointer[error] // set once the file is known to be damaged
	checked chan struct{}         // closed once the check at open is done
	created bool                  // the file was new
}

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

// Open opens or creates the store.
func Open(o Options) (*DB, error) {
	if o.Path == "" {
		return nil, fmt.Errorf("open store: no path given")
	}
	if o.EvidenceDir == "" {
		o.EvidenceDir = filepath.Join(filepath.Dir(o.Path), "evidence")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Commit == 0 {
		o.Commit = 100 * time.Millisecond
	}
	if o.BatchBytes == 0 {
		o.BatchBytes = 8 << 20
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = 2 * time.Second
	}
	if err := mkdirPrivate(filepath.Dir(o.Path)); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if f, err := os.Open(o.Path); err == nil {
		// bbolt would read past the end of a truncated file and die of SIGBUS.
		ps, pages, ok := readMeta(f)
		fi, _ := f.Stat()
		f.Close()
		if ok && fi.Size() < int64(pages)*int64(ps) {
			return nil, fmt.Errorf("open store %s: %w: truncated, %d bytes of the %d its header records: keep the file, and copy out what can be read with 'calm doctor --salvage NEW.db'", o.Path, ErrDamaged, fi.Size(), int64(pages)*int64(ps))
		}
	}
	var b *bolt.DB
	readOnly := false
	err := safely(func() error {
		var err error
		b, err = bolt.Open(o.Path, 0o600, &bolt.Options{
			Timeout:         o.LockTimeout,
			NoFreelistSync:  true,
			FreelistType:    bolt.FreelistMapType,
			InitialMmapSize: cmp.Or(o.mmapSize, 1<<30),
		})
		return err
	})
	if errors.Is(err, ErrDamaged) {
		// Opening for writing walks every page; a damaged one stops it. Read
		// only, the rest can still be shown and copied out; writes are refused.
		if rerr := safely(func() error {
			var err error
			b, err = bolt.Open(o.Path, 0o600, &bolt.Options{Timeout: o.LockTimeout, ReadOnly: true})
			return err
		}); rerr == nil {
			readOnly = true
		}
	}
	if err != nil && !readOnly {
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, fmt.Errorf("open store %s: it is in use by another process (is another calm agent running for it?)", o.Path)
		case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, ErrDamaged):
			return nil, fmt.Errorf("open store %s: %w (%v): run 'calm doctor' to inspect it, keep the file, and point CALM_HOME at a new folder to go on", o.Path, ErrDamaged, err)
		}
		return nil, fmt.Errorf("open store %s: %w", o.Path, err)
	}
	b.StrictMode = o.StrictMode
	_ = os.Chmod(o.Path, 0o600) // a file made by hand or by an older calm
	db := &DB{
		bolt:         b,
		opts:         o,
		progress:     map[string]*chunkProgress{},
		failed:       map[string]error{},
		copiers:      map[string]*copier{},
		followers:    map[string]*follower{},
		copyQueue:    make(chan string, 64),
		pendingCount: map[string]int{},
		kick:         make(chan struct{}, 1),
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
		checked:      make(chan struct{}),
	}
	db.cond = sync.NewCond(&db.mu)
	db.opened, _ = os.Stat(o.Path)
	db.openedAt = o.Now()
	if readOnly {
		db.markDamaged(err)
	}
	if err := db.initSchema(); err != nil {
		b.Close()
		return nil, err
	}
	if db.created || o.SkipCheck {
		close(db.checked)
	} else {
		go db.selfCheck()
	}
	go db.committer()
	go db.copyLoop()
	if !readOnly {
		go db.resumeFollowers()
		db.orphansDone = make(chan struct{})
		go db.watchOrphans()
	}
	if len(o.Remotes) > 0 {
		db.remoteKick = make(chan struct{}, 1)
		go db.remoteLoop()
	}
	return db, nil
}

func (db *DB) initSchema() error {
	// A store already set up is only read here, so a damaged one still opens
	// for reading (and refuses writes once its check has run).
	ready := false
	err := db.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || tx.Bucket(bucketIncidents) == nil {
			return nil
		}
		v := meta.Get(keySchema)
		if v == nil {
			return nil
		}
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return fmt.Errorf("%w: unreadable schema version %q", ErrDamaged, v)
		}
		if n > SchemaVersion {
			return fmt.Errorf("store schema version %d is newer than this calm understands (%d): upgrade calm to open it", n, SchemaVersion)
		}
		ready = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("open store %s: %w", db.opts.Path, err)
	}
	if ready {
		return nil
	}
	db.created = true // a new store: nothing to check
	err = safely(func() error {
		return db.bolt.Update(func(tx *bolt.Tx) error {
			meta, err := tx.CreateBucketIfNotExists(bucketMeta)
			if err != nil {
				return err
			}
			if v := meta.Get(keySchema); v != nil {
				n, err := strconv.Atoi(string(v))
				if err != nil {
					return fmt.Errorf("%w: unreadable schema version %q", ErrDamaged, v)
				}
				if n > SchemaVersion {
					return fmt.Errorf("store schema version %d is newer than this calm understands (%d): upgrade calm to open it", n, SchemaVersion)
				}
			} else if err := meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
				return err
			}
			_, err = tx.CreateBucketIfNotExists(bucketIncidents)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("open store %s: %w", db.opts.Path, err)
	}
	return nil
}

// Path is the bbolt file.
func (db *DB) Path() string { return db.opts.Path }

// Close commits what is pending and closes the file.
func (db *DB) Close() error {
	select {
	case <-db.stop:
		return nil
	default:
	}
	close(db.stop)
	<-db.done
	db.mu.Lock()
	var following []*follower
	for _, f := range db.followers {
		following = append(following, f)
	}
	db.mu.Unlock()
	for _, f := range following {
		<-f.done
	}
	if db.orphansDone != nil {
		<-db.orphansDone
	}
	db.commitPending()
	close(db.copyQueue)
	db.mu.Lock()
	var copiers []*copier
	for _, cp := range db.copiers {
		copiers = append(copiers, cp)
	}
	db.mu.Unlock()
	for _, cp := range copiers { // a seal takes cp.mu, then db.mu: never the other way
		cp.mu.Lock()
		cp.discard()
		cp.mu.Unlock()
	}
	return db.bolt.Close()
}

// safely turns a panic inside bbolt (it panics on some corrupted pages) into
// an error, so a damaged file never takes the agent down.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrDamaged, r)
		}
	}()
	return f()
}

func (db *DB) view(f func(tx *bolt.Tx) error) error {
	return safely(func() error { return db.bolt.View(f) })
}

func (db *DB) update(f func(tx *bolt.Tx) error) error {
	<-db.checked // nothing is written before the file is known to be sound
	if err := db.damage.Load(); err != nil {
		return *err
	}
	err := safely(func() error { return db.bolt.Update(f) })
	if errors.Is(err, ErrDamaged) {
		db.markDamaged(err)
	}
	return err
}

// markDamaged makes every later write fail: writing into a damaged bbolt
// file can spread the damage, and what is there must be salvaged first.
func (db *DB) markDamaged(cause error) {
	err := fmt.Errorf("%w (%v): writing is refused so nothing more is lost; run 'calm doctor', then 'calm doctor --salvage NEW.db'", ErrDamaged, strings.TrimPrefix(cause.Error(), ErrDamaged.Error()+": "))
	db.damage.CompareAndSwap(nil, &err)
}

// Damaged returns why the store refuses writes, or nil.
func (db *DB) Damaged() error {
	if err := db.damage.Load(); err != nil {
		return *err
	}
	return nil
}

// selfCheck runs bbolt's consistency check once, in the background, so a
// damaged file is found before more is written into it.
func (db *DB) selfCheck() {
	defer close(db.checked)
	rep, _ := db.Check()
	if len(rep.Problems) > 0 {
		db.markDamaged(errors.New(rep.Problems[0]))
	}
}

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// ---- incidents ----

func incidentBucket(tx *bolt.Tx, id string) (*bolt.Bucket, error) {
	b := tx.Bucket(bucketIncidents).Bucket([]byte(id))
	if b == nil {
		return nil, fmt.Errorf("incident %s: %w", id, ErrNotFound)
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

func (db *DB) addEvent(b *bolt.Bucket, kind, item, text string) (Event, error) {
	return db.putEvent(b, Event{Time: db.opts.Now().UTC(), Kind: kind, Item: item, Text: text})
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
			return "", fmt.Errorf("no current incident: start one with 'calm incident new TITLE' or name one (see 'calm incident list'): %w", ErrNotFound)
		}
		return string(cur), nil
	}
	all := tx.Bucket(bucketIncidents)
	if all.Bucket([]byte(ref)) != nil {
		return ref, nil
	}
	var found []string
	_ = all.ForEachBucket(func(k []byte) error {
		id := string(k)
		_, suffix, _ := strings.Cut(id, "-")
		if strings.HasPrefix(id, ref) || strings.HasPrefix(suffix, ref) {
			found = append(found, id)
		}
		return nil
	})
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no incident matches %q (see 'calm incident list'): %w", ref, ErrNotFound)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%q matches %d incidents (%s): type more of it: %w", ref, len(found), strings.Join(found, ", "), ErrAmbiguous)
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

// AddNote adds a note to an incident's timeline.
func (db *DB) AddNote(incident, text string) (Event, error) { return db.addNote("", incident, text) }

func (db *DB) addNote(request, incident, text string) (ev Event, err error) {
	if strings.TrimSpace(text) == "" {
		return ev, fmt.Errorf("the note is empty: %w", ErrInvalid)
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
		return ev, fmt.Errorf("event kind %q cannot be added by a client: %w", kind, ErrInvalid)
	}
	err = db.updateOnce(request, &ev, func(tx *bolt.Tx) error {
		b, _, err := incidentIn(tx, incident)
		if err != nil {
			return err
		}
		ev, err = db.addEvent(b, kind, item, text)
		return err
	})
	return ev, err
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
		if _, err := readCapture(b, item); err != nil {
			return err
		}
		ev, err = db.putEvent(b, Event{Time: db.opts.Now().UTC(), Kind: EventMarker, Item: item, Text: text, At: at})
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

// ---- captures ----

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
		return nil, 0, fmt.Errorf("%q is not a capture or session ID (they look like c3 or s1): %w", id, ErrInvalid)
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
		return c, fmt.Errorf("%s %s: %w", kindName(id), id, ErrNotFound)
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
		if c.Title == "" {
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
		b, _, err := incidentIn(tx, incRef)
		if err != nil {
			return err
		}
		c, err = readCapture(b, item)
		return err
	})
	return c, err
}

// ---- chunks ----

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
	committed, fresh, err := db.acceptChunk(incident, capture, n, len(data))
	if err == nil && fresh {
		db.queueChunk(incident, capture, n, data)
	}
	return committed, err
}

// PutChunkAnswered is PutChunk for the agent: answer hears the committed
// count as soon as the chunk is accepted, before it is encoded and queued,
// so the client sends its next chunk while this one is compressed. fresh is
// false for a chunk already committed, which is not queued again. data is
// not kept.
func (db *DB) PutChunkAnswered(incident, capture string, n uint64, data []byte, answer func(committed uint64, fresh bool, err error)) {
	committed, fresh, err := db.acceptChunk(incident, capture, n, len(data))
	answer(committed, fresh, err)
	if err == nil && fresh {
		db.queueChunk(incident, capture, n, data)
	}
}

// acceptChunk checks that chunk n may be stored and returns the committed
// count. fresh is false for a chunk already committed. A fresh chunk counts
// as pending from here, so the caller must queue it.
func (db *DB) acceptChunk(incident, capture string, n uint64, size int) (committed uint64, fresh bool, err error) {
	if size > MaxChunk {
		return 0, false, fmt.Errorf("chunk of %d bytes is over the %d byte limit: %w", size, MaxChunk, ErrInvalid)
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
		return p.next, false, fmt.Errorf("capture %s/%s is sealed at %d chunks; chunk %d came too late: %w", incident, capture, p.next, n, ErrConflict)
	}
	db.pendingCount[key]++
	return p.next, true, nil
}

// queueChunk encodes data (which it never keeps) and queues it for the next
// commit, waiting while two batches already wait: memory stays bounded.
func (db *DB) queueChunk(incident, capture string, n uint64, data []byte) {
	data = encodeChunk(data)
	db.mu.Lock()
	defer db.mu.Unlock()
	for db.pendingBytes >= 2*db.opts.BatchBytes {
		db.cond.Wait()
	}
	db.pending = append(db.pending, pendingChunk{incident, capture, n, data})
	db.pendingBytes += len(data)
	if db.pendingBytes >= db.opts.BatchBytes {
		select {
		case db.kick <- struct{}{}:
		default:
		}
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
				return fmt.Errorf("capture %s/%s has no chunk bucket: %w", pc.incident, pc.capture, ErrNotFound)
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
		if err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				db.failed[key] = fmt.Errorf("%w (%s): free some space, then capture again", ErrNoSpace, filepath.Dir(db.opts.Path))
			} else {
				db.failed[key] = fmt.Errorf("store chunk: %w", err)
			}
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
	return db.eachChunkFrom(incident, capture, nil, f)
}

// eachChunkFrom is eachChunk where skip, given a chunk's decoded size, may
// pass over it without decoding it.
func (db *DB) eachChunkFrom(incident, capture string, skip func(size int64) bool, f func(n uint64, data []byte) error) error {
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
			data, err = decodeChunk(&buf, v)
			if err != nil {
				return fmt.Errorf("capture %s chunk %d: %w", capture, n, err)
			}
			if v[0] == chunkRaw { // the file's own memory, gone with the transaction
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

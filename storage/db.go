package storage

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
//	meta/schema, meta/current                the schema version; the current incident's ID
//	requests/<request id>                    the first answer to a creating request (requests.go)
//	incidents/<incident id>/record           the Incident
//	incidents/<incident id>/captures/<n>     a Capture record (cN), n = big-endian uint64
//	incidents/<incident id>/sessions/<n>     a recorded session's Capture record (sN)
//	incidents/<incident id>/chunks/<ID>/<k>  chunk k of capture or session ID, a tag byte
//	                                         then its bytes, S2-compressed or raw (chunk.go)
//	incidents/<incident id>/chunks/<sN>.text/<k>  the same for a session's derived text
//	incidents/<incident id>/events/<seq>     an Event
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
	Remotes     []Remote                         // S3-compatible buckets that get a copy of every capture
	Logf        func(format string, args ...any) // background work's failures; default: dropped
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
	// timelineMu: an event is appended to a timeline copy, or the copy is
	// written again, one at a time.
	timelineMu sync.Mutex

	mu           sync.Mutex
	cond         *sync.Cond
	pending      []pendingChunk
	pendingBytes int
	pendingCount map[string]int            // pending chunks per capture
	queuedCount  map[string]int            // of those, the ones encoded and queued for a commit
	waiters      int                       // callers in WaitCommitted
	adopting     map[string]bool           // captures whose dead writer's spool is being taken
	progress     map[string]*chunkProgress // by incident/capture
	failed       map[string]error          // last commit failure, per capture
	stoppedBy    map[string]error          // the commit failure that stopped a capture, kept for its seal
	waitingRoom  map[string]roomWait       // orphans whose spools wait for room on the disk
	copiers      map[string]*copier        // file copies being built, per capture
	copyQueue    chan string               // captures with newly committed chunks
	encoders     chan struct{}             // a slot per chunk being encoded beside its request
	encoding     sync.WaitGroup            // chunks being encoded
	followers    map[string]*follower      // sessions taken from their journals

	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	remoteKick chan struct{} // wakes the uploader
	remoteMu   sync.Mutex    // one upload or move of a remote copy at a time

	opened        os.FileInfo     // the file opened, to tell when it is deleted or replaced
	orphansDone   chan struct{}   // closed when watchOrphans has returned
	linesKick     chan struct{}   // wakes linesLoop after a seal
	linesDone     chan struct{}   // closed when linesLoop has returned
	linesNoRoom   map[string]bool // captures whose lines wait for free space (linesLoop's own)
	noLines       map[string]bool // captures whose store copy failed its hash while lines were derived (under mu)
	openedAt      time.Time       // captures created before, open and with no writer, were left by an earlier run
	warnOnce      sync.Once
	warning       string // see Warning
	straySums     map[string]straySum
	strayWarned   string // what Warning last said of them, and when
	strayWarnedAt time.Time

	damage  atomic.Pointer[error] // set once the file is known to be damaged
	checked chan struct{}         // closed once the check at open is done
	created bool                  // the file was new

	// moved is set while the open file is written back to its path after
	// it was deleted or replaced (RescueIfGone): every write is refused
	// then, so none is acknowledged that the copy lacks.
	moved     atomic.Pointer[error]
	rescueErr atomic.Pointer[error] // why the last write-back failed, until one succeeds
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
	if err := mkdirFor(filepath.Dir(o.Path)); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if why := OpenToOthers(filepath.Dir(o.Path)); why != "" {
		return nil, fmt.Errorf("open store: %s", why)
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
	// Opening for writing rebuilds the free list by walking every page, and
	// bbolt panics on a damaged one in a goroutine of its own, which nothing
	// can recover: the file is checked read only first, where calm's walk
	// turns damage into an error, and a damaged store opens read only.
	checked, err := precheck(o)
	if err == nil {
		err = safely(func() error {
			var err error
			b, err = bolt.Open(o.Path, 0o600, &bolt.Options{
				Timeout:         o.LockTimeout,
				NoFreelistSync:  true,
				FreelistType:    bolt.FreelistMapType,
				InitialMmapSize: cmp.Or(o.mmapSize, 1<<30),
			})
			return err
		})
	}
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
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			dir := filepath.Dir(o.Path)
			return nil, fmt.Errorf("open store %s: %w: calm's agent writes to its store; to read this one, copy its folder somewhere writable: cp -a %s /tmp/calm-copy && CALM_HOME=/tmp/calm-copy calm status", o.Path, err, dir)
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
		stoppedBy:    map[string]error{},
		waitingRoom:  map[string]roomWait{},
		copiers:      map[string]*copier{},
		followers:    map[string]*follower{},
		copyQueue:    make(chan string, 64),
		encoders:     make(chan struct{}, chunkEncoders),
		pendingCount: map[string]int{},
		queuedCount:  map[string]int{},
		adopting:     map[string]bool{},
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
	if db.created || o.SkipCheck || (checked && !readOnly) {
		close(db.checked)
	} else {
		go db.selfCheck()
	}
	go db.committer()
	go db.copyLoop()
	if !readOnly {
		// Every field the goroutines below use is set before any starts:
		// a follower resumed kicks the lines loop.
		db.orphansDone = make(chan struct{})
		db.linesKick, db.linesDone, db.linesNoRoom = make(chan struct{}, 1), make(chan struct{}), map[string]bool{}
		db.noLines = map[string]bool{}
		go db.resumeFollowers()
		go db.watchOrphans()
		go db.linesLoop()
		go db.sweepTemps(time.Now()) // the real clock: a temp file written from now on is this store's
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
	db.cond.Broadcast() // encoders waiting for room queue their chunks for the last commit
	db.mu.Unlock()
	db.encoding.Wait()
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
	if db.linesDone != nil {
		<-db.linesDone
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
	if err := db.moved.Load(); err != nil {
		return *err
	}
	err := safely(func() error {
		return db.bolt.Update(func(tx *bolt.Tx) error {
			// Again under bbolt's writer lock, which a write-back holds
			// while it copies the file: a write waiting for it ends here.
			if err := db.moved.Load(); err != nil {
				return *err
			}
			return f(tx)
		})
	})
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
// precheck runs the store's check on the file read only, before it is
// opened for writing; checked is false when there was nothing to check (a
// new file, a check switched off) or it could not be opened to check.
func precheck(o Options) (checked bool, err error) {
	if fi, err := os.Stat(o.Path); err != nil || fi.Size() == 0 || o.SkipCheck {
		return false, nil
	}
	var b *bolt.DB
	if err := safely(func() error {
		var err error
		b, err = bolt.Open(o.Path, 0o600, &bolt.Options{Timeout: o.LockTimeout, ReadOnly: true})
		return err
	}); err != nil {
		if errors.Is(err, ErrDamaged) {
			return false, err
		}
		return false, nil // the open for writing says why, in its words
	}
	problems := checkStore(b)
	b.Close()
	if len(problems) > 0 {
		return true, fmt.Errorf("%w: %s", ErrDamaged, strings.TrimPrefix(problems[0], ErrDamaged.Error()+": "))
	}
	return true, nil
}

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

// mkdirPrivate makes a folder of calm's own (evidence, an incident's
// copies) private: made 0700, or made so if it was made otherwise (by hand,
// by an older calm).
func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// OpenToOthers says why a store's folder lets someone else put files where
// calm writes its own (its journal, its log, its evidence; a shared /tmp,
// a team's folder): others can write in it, or it is another user's; ""
// when it does not.
func OpenToOthers(dir string) string {
	fi, err := os.Stat(dir)
	if err != nil {
		return ""
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		if fi.Mode()&os.ModeSticky != 0 {
			perm |= 0o1000 // as ls and chmod say it: 1777
		}
		return fmt.Sprintf("the store's folder %s is open to others (mode %04o), who could put files where calm writes its own: put the store in a folder of your own (--store ~/calm/calm.db)", dir, perm)
	}
	if uid, ok := ownerOf(fi); ok && uid != os.Getuid() {
		return fmt.Sprintf("the store's folder %s belongs to another user (uid %d), who could change what calm keeps there: put the store in a folder of your own (--store ~/calm/calm.db)", dir, uid)
	}
	return ""
}

// mkdirFor makes the folder a file the person named goes into (--store,
// a salvage's new file): a missing one is made 0700, but one that exists is
// theirs, and left as it is, unless it is calm's folder by name (the data
// folder's calm): a store put in /tmp or a team's folder must not take it
// away from everyone else. The files calm writes there are 0600 whatever
// the folder.
func mkdirFor(dir string) error {
	if _, err := os.Lstat(dir); err == nil && filepath.Base(dir) != "calm" {
		return nil
	}
	return mkdirPrivate(dir)
}

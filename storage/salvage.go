package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"calm/scratch"
)

// Inspection is what calm can tell about a store file without the agent.
type Inspection struct {
	Path     string
	Size     int64    // bytes on disk
	Expected int64    // bytes its header says it has (0 if unknown)
	PageSize int      // 0 if no header is readable
	Empty    bool     // the file has no byte: never written, nothing to salvage
	Problems []string // empty when the file is sound
}

// bbolt's meta page: after a 16-byte page header, magic, version, page
// size, flags, root bucket (root, sequence), freelist, then the high-water
// page id.
const (
	metaMagic      = 0xED0CDAED
	metaPageSizeAt = 16 + 8
	metaPgidAt     = 16 + 4 + 4 + 4 + 4 + 8 + 8 + 8
)

// readMeta returns the page size and high-water mark from the first meta
// page that has bbolt's magic number.
func readMeta(f *os.File) (pageSize int, pages uint64, ok bool) {
	buf := make([]byte, 64)
	for _, off := range []int64{0, 4096, 16384, 65536} {
		if n, _ := f.ReadAt(buf, off); n < len(buf) {
			continue
		}
		if binary.LittleEndian.Uint32(buf[16:]) != metaMagic {
			continue
		}
		ps := int(binary.LittleEndian.Uint32(buf[metaPageSizeAt:]))
		if ps < 512 || ps > 1<<16 {
			continue
		}
		return ps, binary.LittleEndian.Uint64(buf[metaPgidAt:]), true
	}
	return 0, 0, false
}

// Inspect looks at a store file that the agent cannot open or that failed
// its check: is it truncated, are its headers readable, what does bbolt's
// own check find. It never writes to the file.
func Inspect(path string) Inspection {
	in := Inspection{Path: path}
	f, err := os.Open(path)
	if err != nil {
		in.Problems = append(in.Problems, err.Error())
		return in
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		in.Size = fi.Size()
	}
	ps, pages, ok := readMeta(f)
	if !ok && in.Size == 0 {
		in.Empty = true
		in.Problems = append(in.Problems, "the file is empty (0 bytes): the store was never written, as when its disk was full as calm made it; no record was in it to lose")
		return in
	}
	if !ok {
		in.Problems = append(in.Problems, "no readable bbolt header: this is not a calm store, or its first pages are overwritten")
		return in
	}
	in.PageSize, in.Expected = ps, int64(pages)*int64(ps)
	if in.Size < in.Expected {
		in.Problems = append(in.Problems, fmt.Sprintf("truncated: %d bytes of the %d its header records", in.Size, in.Expected))
		return in // bbolt would read past the end of the file
	}
	var b *bolt.DB
	err = safely(func() (err error) {
		b, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		return err
	})
	if err != nil {
		in.Problems = append(in.Problems, err.Error())
		return in
	}
	defer b.Close()
	in.Problems = append(in.Problems, checkStore(b)...)
	return in
}

// SalvageReport says what a salvage copied and what it could not.
type SalvageReport struct {
	Incidents int
	Captures  int
	Chunks    int
	Events    int
	Restored  []string // captures rebuilt whole from their evidence copy
	// Damaged are lists (of incidents, of an incident's captures or events)
	// the walk could not read to their end: what they listed was looked
	// for in the evidence folders, which hold every capture and event.
	Damaged []string
	Lost    []string // what could not be read, nor found in the evidence folders
}

// Salvage copies every record of a damaged store that can still be read into
// a new store at to. A capture whose chunks are damaged is rebuilt from its
// evidence copy when that copy's SHA-256 is the one the capture was sealed
// with. evidenceDir is where the damaged store's evidence copies are.
func Salvage(from, to, evidenceDir string, progress func(string)) (rep SalvageReport, err error) {
	if progress == nil {
		progress = func(string) {}
	}
	if _, err := os.Stat(to); err == nil {
		return rep, fmt.Errorf("salvage: %s exists: name a new file", to)
	}
	// Work on a copy, grown to the size its header records, so a truncated
	// file reads as zero pages (a recoverable panic) rather than past its end
	// (SIGBUS).
	if err := mkdirFor(filepath.Dir(to)); err != nil {
		return rep, fmt.Errorf("salvage: %w", err)
	}
	// The copy holds every capture: a signal removes it too.
	tmp, err := scratch.MkdirTemp(filepath.Dir(to), ".salvage-")
	if err != nil {
		return rep, fmt.Errorf("salvage: %w", err)
	}
	defer tmp.Remove()
	work := filepath.Join(tmp.Name(), "damaged.db")
	err = copyFile(from, work)
	gone := os.IsNotExist(err) // deleted, or its disk lost: the evidence is all there is
	if err != nil && !gone {
		return rep, fmt.Errorf("salvage: copy %s: %w", from, err)
	}
	if f, err := os.OpenFile(work, os.O_RDWR, 0); err == nil {
		if ps, pages, ok := readMeta(f); ok {
			if fi, _ := f.Stat(); fi.Size() < int64(pages)*int64(ps) {
				f.Truncate(int64(pages) * int64(ps))
			}
		}
		f.Close()
	}
	newEvidence := newEvidenceDir(to)
	defer func() {
		// The new store gets its own evidence folder, with every copy file
		// that still matches its folder's SHA256SUMS.
		copyEvidence(evidenceDir, newEvidence, &rep)
	}()
	// The new store is built beside the copy and takes its name only once
	// whole: a salvage interrupted (Ctrl-C, a full disk) leaves no store
	// that looks finished.
	building := filepath.Join(tmp.Name(), "salvaged.db")
	dst, err := bolt.Open(building, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return rep, fmt.Errorf("salvage: create %s: %w", to, err)
	}
	defer func() {
		if cerr := dst.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("salvage: write %s: %w", to, cerr)
		}
		if err == nil {
			err = publishSalvaged(building, to)
		}
	}()

	var src *bolt.DB
	openErr := fmt.Errorf("%s does not exist", from)
	if !gone {
		openErr = safely(func() (err error) {
			src, err = bolt.Open(work, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
			return err
		})
	}
	if openErr != nil {
		rep.Lost = append(rep.Lost, "the store's structure: "+openErr.Error())
		progress("the store cannot be opened; rebuilding captures from the evidence copies only")
		err := salvageEvidence(dst, evidenceDir, to, &rep)
		return rep, err
	}
	defer src.Close()

	err = dst.Update(func(out *bolt.Tx) error {
		meta, _ := out.CreateBucketIfNotExists(bucketMeta)
		meta.Put(keySchema, []byte(fmt.Sprint(SchemaVersion)))
		safely(func() error {
			return src.View(func(tx *bolt.Tx) error {
				if m := tx.Bucket(bucketMeta); m != nil {
					if v := m.Get(keyCurrent); v != nil {
						meta.Put(keyCurrent, bytes.Clone(v))
					}
				}
				return nil
			})
		})
		incs, _ := out.CreateBucketIfNotExists(bucketIncidents)
		for _, id := range salvageKeys(src, &rep, nil) {
			progress("incident " + string(id))
			if err := salvageIncident(src, incs, id, evidenceDir, to, &rep); err != nil {
				return err
			}
		}
		// What the damage hid from the walk (a lost list of incidents or
		// of captures) still has its verified evidence copies.
		return restoreFromEvidence(incs, evidenceDir, to, &rep)
	})
	return rep, err
}

// publishSalvaged gives the store built at building its name, to, unless a
// file took that name meanwhile (a link never replaces one).
func publishSalvaged(building, to string) error {
	if err := os.Link(building, to); err != nil {
		if os.IsExist(err) {
			return fmt.Errorf("salvage: %s appeared while salvaging: name a new file", to)
		}
		return fmt.Errorf("salvage: %w", err)
	}
	os.Remove(building)
	return syncDir(filepath.Dir(to))
}

// salvageKeys lists the keys of a bucket (nil path: the incidents), as many
// as can be read before damage stops the cursor.
func salvageKeys(src *bolt.DB, rep *SalvageReport, path [][]byte) [][]byte {
	var keys [][]byte
	err := safely(func() error {
		return src.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketIncidents)
			for _, p := range path {
				if b == nil {
					break
				}
				b = b.Bucket(p)
			}
			if b == nil {
				return nil
			}
			c := b.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil {
		where := "the list of incidents"
		if len(path) > 0 {
			where = string(bytes.Join(path, []byte("/")))
		}
		rep.Damaged = append(rep.Damaged, fmt.Sprintf("%s after %d entries: %v", where, len(keys), err))
	}
	return keys
}

// get reads one value under incidents/path..., or nil if it cannot.
func get(src *bolt.DB, path [][]byte, key []byte) (v []byte, err error) {
	err = safely(func() error {
		return src.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketIncidents)
			for _, p := range path {
				if b == nil {
					return nil
				}
				b = b.Bucket(p)
			}
			if b != nil {
				v = bytes.Clone(b.Get(key))
			}
			return nil
		})
	})
	return v, err
}

func salvageIncident(src *bolt.DB, incs *bolt.Bucket, id []byte, evidenceDir, newStore string, rep *SalvageReport) error {
	inc := [][]byte{id}
	record, err := get(src, inc, keyRecord)
	if err != nil || record == nil {
		rep.Lost = append(rep.Lost, fmt.Sprintf("incident %s: its record is unreadable", id))
		return nil
	}
	out, err := incs.CreateBucketIfNotExists(id)
	if err != nil {
		return err
	}
	if err := out.Put(keyRecord, record); err != nil {
		return err
	}
	rep.Incidents++
	// Events and capture records: copied one by one.
	for _, name := range [][]byte{bucketEvents, bucketCaptures, bucketSessions} {
		ob, err := out.CreateBucketIfNotExists(name)
		if err != nil {
			return err
		}
		for _, k := range salvageKeys(src, rep, [][]byte{id, name}) {
			v, err := get(src, [][]byte{id, name}, k)
			if err != nil || v == nil {
				rep.Lost = append(rep.Lost, fmt.Sprintf("%s/%s/%s: unreadable", id, name, k))
				continue
			}
			if !bytes.Equal(name, bucketEvents) {
				if v, err = salvageCapture(src, out, id, k, v, evidenceDir, newStore, rep); err != nil {
					return err
				}
			} else {
				rep.Events++
			}
			if err := ob.Put(k, v); err != nil {
				return err
			}
			if len(k) == 8 { // new records must not reuse a salvaged number
				ob.SetSequence(max(ob.Sequence(), binary.BigEndian.Uint64(k)))
			}
		}
	}
	return nil
}

// newEvidenceDir is the salvaged store's evidence folder.
func newEvidenceDir(newStore string) string { return filepath.Join(filepath.Dir(newStore), "evidence") }

// salvagedCopies points a salvaged capture's copies at the new store and its
// evidence folder (mirrors stay where they are).
func salvagedCopies(c *Capture, newStore string) {
	for i, cp := range c.Copies {
		switch cp.Kind {
		case CopyEvidence:
			c.Copies[i].Location = copyPath(newEvidenceDir(newStore), c.Incident, c.ID)
		case CopyStore:
			c.Copies[i].Location = newStore
		default:
			continue
		}
		// Their device is the new store's: counted as one place, as at seal.
		c.Copies[i].Device = nearestDevice(c.Copies[i].Location)
	}
}

// nearestDevice is deviceOf the path, or of the nearest folder above it
// that exists (an evidence copy is copied into place after its record).
func nearestDevice(path string) string {
	for {
		if d := deviceOf(path); d != "" || filepath.Dir(path) == path {
			return d
		}
		path = filepath.Dir(path)
	}
}

// salvageCapture copies a capture's chunks (and a session's derived text)
// and returns its record, its copies pointing at the new store.
func salvageCapture(src *bolt.DB, out *bolt.Bucket, inc, key, record []byte, evidenceDir, newStore string, rep *SalvageReport) ([]byte, error) {
	var c Capture
	if json.Unmarshal(record, &c) != nil {
		rep.Lost = append(rep.Lost, fmt.Sprintf("%s/%s: its record does not parse", inc, key))
		return record, nil
	}
	c.Incident = string(inc)
	rep.Captures++
	chunks, _ := out.CreateBucketIfNotExists(bucketChunks)
	n, whole, lost, err := salvageChunks(src, chunks, inc, c.ID, c.State == CaptureSealed, c.Chunks, c.SHA256, rep)
	if err != nil {
		return record, err
	}
	if !whole && c.State == CaptureSealed {
		// The evidence copy was verified against the same SHA-256: rebuild.
		path := copyPath(evidenceDir, string(inc), c.ID)
		if sum, _, err := hashFile(path); err == nil && sum == c.SHA256 {
			chunks.DeleteBucket([]byte(c.ID))
			cb, _ := chunks.CreateBucket([]byte(c.ID))
			if n, err = rechunk(cb, path); err != nil {
				return record, err
			}
			whole = true
			rep.Restored = append(rep.Restored, fmt.Sprintf("%s/%s (%d damaged chunks) from %s", inc, c.ID, len(lost), path))
		} else {
			rep.Lost = append(rep.Lost, fmt.Sprintf("%s/%s: chunks %v unreadable and no evidence copy matches its SHA-256", inc, c.ID, lost))
		}
	}
	if whole && c.State == CaptureSealed {
		c.Chunks = n
	}
	if c.Text != nil {
		// A session's derived text is kept when it reads back whole;
		// otherwise show and search use its output as recorded.
		_, textWhole, _, err := salvageChunks(src, chunks, inc, textBucketOf(c), true, 0, c.Text.SHA256, nil)
		if err != nil {
			return record, err
		}
		if !textWhole {
			chunks.DeleteBucket([]byte(textBucketOf(c)))
			c.Text = nil
		}
	}
	c.Lines = nil // derived again by the new store, from what was salvaged
	salvagedCopies(&c, newStore)
	if !whole {
		for i, cp := range c.Copies {
			if cp.Kind == CopyStore {
				c.Copies[i].State, c.Copies[i].Error = CopyMismatch, "chunks lost in a salvage"
			}
		}
	}
	return json.Marshal(c)
}

// salvageChunks copies the readable chunks of bucket name; whole says they
// were all there and (when sum is set and sealed) hash to sum. chunks is
// how many a sealed capture has (0: as many as are found).
func salvageChunks(src *bolt.DB, out *bolt.Bucket, inc []byte, name string, sealed bool, chunks uint64, sum string, rep *SalvageReport) (uint64, bool, []uint64, error) {
	cb, err := out.CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return 0, false, nil, err
	}
	var lost []uint64
	h := sha256.New()
	var n uint64
	for ; ; n++ {
		v, err := get(src, [][]byte{inc, bucketChunks, []byte(name)}, u64(n))
		if err == nil && v == nil && (!sealed || chunks == 0 || n >= chunks) {
			break
		}
		if err != nil || v == nil {
			lost = append(lost, n)
			if sealed && (chunks == 0 || n+1 >= chunks) {
				n++
				break
			}
			if !sealed && len(lost) > 64 {
				break
			}
			continue
		}
		var buf []byte
		data, derr := decodeChunk(n, &buf, v)
		if derr != nil {
			lost = append(lost, n)
			continue
		}
		h.Write(data)
		if err := cb.Put(u64(n), v); err != nil {
			return n, false, lost, err
		}
		if rep != nil {
			rep.Chunks++
		}
	}
	whole := len(lost) == 0 && (!sealed || sum == "" || hex.EncodeToString(h.Sum(nil)) == sum)
	return n, whole, lost, nil
}

// rechunk stores a file as a capture's chunks.
func rechunk(cb *bolt.Bucket, path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, ChunkSize)
	var n uint64
	for {
		k, err := io.ReadFull(f, buf)
		if k > 0 {
			if err := cb.Put(u64(n), encodeChunk(n, buf[:k])); err != nil {
				return n, err
			}
			n++
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// salvageEvidence rebuilds what it can when the store cannot be opened at
// all: every evidence file listed in its folder's SHA256SUMS with a matching
// hash becomes a capture of an incident of the same ID.
func salvageEvidence(dst *bolt.DB, evidenceDir, newStore string, rep *SalvageReport) error {
	return dst.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucketIfNotExists(bucketMeta)
		meta.Put(keySchema, []byte(fmt.Sprint(SchemaVersion)))
		incs, _ := tx.CreateBucketIfNotExists(bucketIncidents)
		return restoreFromEvidence(incs, evidenceDir, newStore, rep)
	})
}

// restoreFromEvidence adds every capture that has a verified evidence copy
// and is not in the salvaged store yet, in an incident of the folder's ID
// (created if the damage took the incident itself, or the list of them).
func restoreFromEvidence(incs *bolt.Bucket, evidenceDir, newStore string, rep *SalvageReport) error {
	dirs, _ := os.ReadDir(evidenceDir)
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		sums, err := os.ReadFile(filepath.Join(evidenceDir, d.Name(), "SHA256SUMS"))
		if err != nil {
			if _, terr := os.Lstat(filepath.Join(evidenceDir, d.Name(), timelineFile)); terr != nil {
				rep.Lost = append(rep.Lost, fmt.Sprintf("incident %s: no SHA256SUMS in its evidence folder", d.Name()))
				continue
			}
			sums = nil // no captures, but its timeline: the incident comes back
		}
		b := incs.Bucket([]byte(d.Name()))
		created := b == nil
		if created {
			b, err = incs.CreateBucket([]byte(d.Name()))
			if err != nil {
				return err
			}
			rec, _ := json.Marshal(Incident{ID: d.Name(), Title: "salvaged from evidence copies", Opened: time.Now().UTC()})
			b.Put(keyRecord, rec)
			rep.Incidents++
		}
		if err := restoreTimeline(b, filepath.Join(evidenceDir, d.Name()), created, rep); err != nil {
			return err
		}
		caps, _ := b.CreateBucketIfNotExists(bucketCaptures)
		sess, _ := b.CreateBucketIfNotExists(bucketSessions)
		chunks, _ := b.CreateBucketIfNotExists(bucketChunks)
		for _, line := range bytes.Split(bytes.TrimSpace(sums), []byte("\n")) {
			sum, name, ok := bytes.Cut(line, []byte("  "))
			if !ok {
				continue
			}
			id := string(bytes.TrimSuffix(bytes.TrimSuffix(name, []byte(".txt")), []byte(".cast")))
			_, num, err := itemKey(id)
			if err != nil {
				rep.Lost = append(rep.Lost, fmt.Sprintf("%s/%s: not a capture's file name", d.Name(), name))
				continue
			}
			target := caps
			if bytes.HasSuffix(name, []byte(".cast")) {
				target = sess
			}
			if target.Get(u64(num)) != nil {
				continue // salvaged from the store
			}
			path := filepath.Join(evidenceDir, d.Name(), string(name))
			got, size, err := hashFile(path)
			if err != nil || got != string(sum) {
				rep.Lost = append(rep.Lost, fmt.Sprintf("%s/%s: its evidence copy is missing or differs", d.Name(), id))
				continue
			}
			if chunks.Bucket([]byte(id)) != nil {
				chunks.DeleteBucket([]byte(id))
			}
			cb, _ := chunks.CreateBucket([]byte(id))
			n, err := rechunk(cb, path)
			if err != nil {
				return err
			}
			now := time.Now().UTC()
			c := Capture{Incident: d.Name(), ID: id, Title: "salvaged " + id, Source: "salvage", Created: now,
				State: CaptureSealed, Size: size, Chunks: n, SHA256: got, Sealed: now,
				// Both were just read back and hashed: the chunks as they
				// were stored, the file they came from.
				Copies: []Copy{
					{Kind: CopyStore, State: CopyVerified, SHA256: got, Verified: now},
					{Kind: CopyEvidence, State: CopyVerified, SHA256: got, Verified: now},
				}}
			salvagedCopies(&c, newStore)
			if target == sess {
				c.Source, c.Recording = SourceSession, castRecording(path)
			}
			if m, ok := readMetaFor(filepath.Join(evidenceDir, d.Name()), id, got); ok { // meta.go
				c.Title, c.Source, c.Session, c.Created, c.Sealed = m.Title, m.Source, m.Session, m.Created, m.Sealed
				c.Interrupted, c.Warning = m.Interrupted, m.Warning
				if m.Recording != nil {
					c.Recording = m.Recording
				}
				for _, cp := range m.Copies {
					if cp.Kind == CopyMirror {
						c.Copies = append(c.Copies, checkFile(CopyMirror, cp.Location, got, time.Now))
					}
				}
			}
			if c.Recording != nil {
				c.Recording.Journal = copyPath(newEvidenceDir(newStore), d.Name(), id)
			}
			rec, _ := json.Marshal(c)
			if err := target.Put(u64(num), rec); err != nil {
				return err
			}
			target.SetSequence(max(target.Sequence(), num))
			rep.Captures++
			rep.Chunks += int(n)
			rep.Restored = append(rep.Restored, fmt.Sprintf("%s/%s from %s", d.Name(), id, path))
		}
	}
	// The current incident, if its pointer was lost: the newest one.
	if meta := incs.Tx().Bucket(bucketMeta); meta != nil && meta.Get(keyCurrent) == nil {
		if cur := restoredCurrent(incs, evidenceDir); cur != nil { // timeline.go
			meta.Put(keyCurrent, cur)
		}
	}
	return nil
}

// castRecording is what a session's asciicast header says of its terminal.
func castRecording(path string) *Recording {
	rec := &Recording{Cols: 80, Rows: 24}
	f, err := os.Open(path)
	if err != nil {
		return rec
	}
	defer f.Close()
	line, _, _ := bytes.Cut(readHead(f, 64<<10), []byte("\n"))
	var h struct {
		Width, Height int
		Title         string
	}
	if json.Unmarshal(line, &h) == nil && h.Width > 0 && h.Height > 0 {
		rec.Cols, rec.Rows, rec.Command = h.Width, h.Height, h.Title
	}
	return rec
}

func readHead(r io.Reader, n int) []byte {
	buf := make([]byte, n)
	k, _ := io.ReadFull(r, buf)
	return buf[:k]
}

// copyEvidence copies every incident's evidence folder: the files and the
// SHA256SUMS that lists them. Symlinks are not followed.
func copyEvidence(from, to string, rep *SalvageReport) {
	dirs, _ := os.ReadDir(from)
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		dst := filepath.Join(to, d.Name())
		if err := mkdirPrivate(dst); err != nil {
			rep.Lost = append(rep.Lost, "evidence folder "+dst+": "+err.Error())
			continue
		}
		files, _ := os.ReadDir(filepath.Join(from, d.Name()))
		for _, f := range files {
			if !f.Type().IsRegular() {
				continue
			}
			if err := copyFile(filepath.Join(from, d.Name(), f.Name()), filepath.Join(dst, f.Name())); err != nil && !os.IsExist(err) {
				rep.Lost = append(rep.Lost, "evidence copy "+f.Name()+": "+err.Error())
			}
		}
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

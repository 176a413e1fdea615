package report

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"calm/capture"
	"calm/sanitize"
	"calm/storage"
)

// BundleStore is a pulled bundle seen through the Store interface, read
// only, so the TUI reviews a teammate's incident exactly as it reviews one
// of its own.
type BundleStore struct {
	Path     string
	incident storage.Incident
	captures []storage.Capture
	events   []storage.Event
	files    map[string][]byte // by capture ID
}

var _ storage.Store = (*BundleStore)(nil)

// OpenBundle checks a bundle against its manifest and loads it.
func OpenBundle(path string) (*BundleStore, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	_, problems, err := VerifyBundle(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %d files do not match its %s (%s): do not trust it", path, len(problems), SumsFile, problems[0])
	}
	f.Seek(0, io.SeekStart)
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	bs := &BundleStore{Path: path, files: map[string][]byte{}}
	tr := tar.NewReader(gz)
	var record []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		_, name, _ := strings.Cut(h.Name, "/")
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		switch {
		case name == "incident.json":
			record = data
		case strings.HasPrefix(name, "captures/"), strings.HasPrefix(name, "sessions/"):
			id := strings.TrimSuffix(strings.TrimSuffix(name[strings.IndexByte(name, '/')+1:], ".txt"), ".cast")
			bs.files[id] = data
		}
	}
	var rec struct {
		Incident storage.Incident  `json:"incident"`
		Captures []storage.Capture `json:"captures"`
		Events   []storage.Event   `json:"events"`
	}
	if err := json.Unmarshal(record, &rec); err != nil {
		return nil, fmt.Errorf("%s: incident.json: %v", path, err)
	}
	bs.incident, bs.captures, bs.events = rec.Incident, rec.Captures, rec.Events
	for i := range bs.captures {
		// The bundle's copy is redacted: its size and hash are its own.
		c := &bs.captures[i]
		data := bs.files[c.ID]
		c.Size = int64(len(data))
	}
	return bs, nil
}

func readOnly() error {
	return fmt.Errorf("a pulled incident is read-only: %w", storage.ErrInvalid)
}

func (b *BundleStore) NewIncident(string) (storage.Incident, error) {
	return storage.Incident{}, readOnly()
}
func (b *BundleStore) Incidents() ([]storage.Incident, error) {
	return []storage.Incident{b.incident}, nil
}
func (b *BundleStore) Incident(ref string) (storage.Incident, error) {
	if ref == "" || strings.HasPrefix(b.incident.ID, ref) {
		return b.incident, nil
	}
	return storage.Incident{}, fmt.Errorf("incident %s is not in %s: %w", ref, b.Path, storage.ErrNotFound)
}
func (b *BundleStore) UseIncident(string) (storage.Incident, error)   { return b.incident, readOnly() }
func (b *BundleStore) CloseIncident(string) (storage.Incident, error) { return b.incident, readOnly() }
func (b *BundleStore) CurrentIncident() (storage.Incident, error)     { return b.incident, nil }
func (b *BundleStore) CreateCapture(string, storage.NewCapture) (storage.Capture, error) {
	return storage.Capture{}, readOnly()
}
func (b *BundleStore) PutChunk(string, string, uint64, []byte) (uint64, error) { return 0, readOnly() }
func (b *BundleStore) WaitCommitted(string, string, uint64) (uint64, error)    { return 0, readOnly() }
func (b *BundleStore) FollowJournal(string, string) error                      { return readOnly() }
func (b *BundleStore) SealJournal(string, string, int64) (storage.Capture, error) {
	return storage.Capture{}, readOnly()
}
func (b *BundleStore) SealCapture(string, string, storage.Seal) (storage.Capture, error) {
	return storage.Capture{}, readOnly()
}
func (b *BundleStore) Captures(string) ([]storage.Capture, error) { return b.captures, nil }
func (b *BundleStore) Capture(ref string) (storage.Capture, error) {
	id := ref[strings.LastIndexByte(ref, '/')+1:]
	for _, c := range b.captures {
		if c.ID == id {
			return c, nil
		}
	}
	return storage.Capture{}, fmt.Errorf("%s is not in %s: %w", ref, b.Path, storage.ErrNotFound)
}
func (b *BundleStore) WriteContent(ref string, from int64, w io.Writer) error {
	c, err := b.Capture(ref)
	if err != nil {
		return err
	}
	data := b.files[c.ID]
	_, err = w.Write(data[min(from, int64(len(data))):])
	return err
}

// WriteText derives a session's text as the store would have.
func (b *BundleStore) WriteText(ref string, w io.Writer) error {
	c, err := b.Capture(ref)
	if err != nil {
		return err
	}
	if c.Recording == nil {
		return b.WriteContent(ref, 0, w)
	}
	return capture.DeriveText(bytes.NewReader(b.files[c.ID]), w)
}
func (b *BundleStore) AddNote(string, string) (storage.Event, error) {
	return storage.Event{}, readOnly()
}
func (b *BundleStore) AddMarker(string, string, string, float64) (storage.Event, error) {
	return storage.Event{}, readOnly()
}
func (b *BundleStore) AddEvent(string, string, string, string) (storage.Event, error) {
	return storage.Event{}, readOnly()
}
func (b *BundleStore) Events(string) ([]storage.Event, error) { return b.events, nil }

// Search finds lines in the bundle's captures (sessions by their output).
func (b *BundleStore) Search(q storage.SearchQuery, each func(storage.Match) error) error {
	re, err := q.Regexp()
	if err != nil {
		return err
	}
	found := 0
	for _, c := range b.captures {
		var text bytes.Buffer
		Output(b, c, &text)
		for i, line := range bytes.Split(text.Bytes(), []byte("\n")) {
			clean := sanitize.Text(line)
			if !re.Match(clean) {
				continue
			}
			found++
			if err := each(storage.Match{Incident: b.incident.ID, Item: c.ID, Line: int64(i + 1), Text: string(clean)}); err != nil {
				return err
			}
			if q.Limit > 0 && found >= q.Limit {
				return nil
			}
		}
	}
	return nil
}

// Verify checks the bundle against its manifest again.
func (b *BundleStore) Verify(string) (storage.VerifyReport, error) {
	f, err := os.Open(b.Path)
	if err != nil {
		return storage.VerifyReport{}, err
	}
	defer f.Close()
	ok, problems, err := VerifyBundle(f)
	rep := storage.VerifyReport{Captures: len(b.captures), Copies: ok + len(problems)}
	for _, p := range problems {
		rep.Problems = append(rep.Problems, storage.Problem{Incident: b.incident.ID, Copy: storage.Copy{Kind: "bundle", Location: b.Path, State: storage.CopyMismatch, Error: p}})
	}
	return rep, err
}
func (b *BundleStore) Check() (storage.CheckReport, error) {
	return storage.CheckReport{Path: b.Path, Schema: storage.SchemaVersion}, nil
}
func (b *BundleStore) Close() error { return nil }

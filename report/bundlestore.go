package report

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"calm/model"
	"calm/sanitize"
	"calm/scratch"
	"calm/terminal"
)

// BundleStore is a pulled bundle seen through the Store interface, read
// only, so the TUI reviews a teammate's incident exactly as it reviews one
// of its own. Its files are unpacked, once checked, into a private folder
// that Close removes: a capture may be larger than memory.
type BundleStore struct {
	Path     string
	dir      *scratch.Path
	incident model.Incident
	captures []model.Capture
	events   []model.Event
	files    map[string]string // the unpacked file of each capture, by ID
}

var _ model.Store = (*BundleStore)(nil)

// OpenBundle checks a bundle against its manifest and loads it, in the one
// pass that also verifies it: what it shows is what was checked.
func OpenBundle(path string) (*BundleStore, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dir, err := scratch.MkdirTempSwept("", "calm-review-")
	if err != nil {
		return nil, fmt.Errorf("unpack %s: %w", path, err)
	}
	bs := &BundleStore{Path: path, dir: dir, files: map[string]string{}}
	if err := bs.load(f); err != nil {
		dir.Remove()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return bs, nil
}

func (b *BundleStore) load(f io.Reader) error {
	contents, err := readBundle(bufio.NewReaderSize(f, 1<<20), b.dir.Name())
	if err != nil {
		return err
	}
	if _, problems := contents.check(); len(problems) > 0 {
		verb := "do"
		if len(problems) == 1 {
			verb = "does"
		}
		return fmt.Errorf("%s %s not match its %s (%s): do not trust it", model.Plural(len(problems), "file"), verb, SumsFile, problems[0])
	}
	rf, ok := contents.files["incident.json"]
	if !ok {
		return fmt.Errorf("it has no incident.json: it was not made by calm export --format bundle")
	}
	record, err := os.ReadFile(rf.path)
	if err != nil {
		return err
	}
	var rec struct {
		Incident model.Incident  `json:"incident"`
		Captures []model.Capture `json:"captures"`
		Events   []model.Event   `json:"events"`
	}
	if err := json.Unmarshal(record, &rec); err != nil {
		return fmt.Errorf("incident.json: %v", err)
	}
	if "calm-"+rec.Incident.ID != contents.root {
		return fmt.Errorf("its folder %s does not hold incident %s: do not trust it", contents.root, rec.Incident.ID)
	}
	b.incident, b.captures, b.events = rec.Incident, rec.Captures, rec.Events
	for i := range b.captures {
		// The bundle's copy is redacted: its size and hash are its own.
		c := &b.captures[i]
		name := "captures/" + c.ID + ".txt"
		if c.Recording != nil {
			name = "sessions/" + c.ID + ".cast"
		}
		if cf, ok := contents.files[name]; ok {
			b.files[c.ID] = cf.path
			c.Size = cf.size
			// The origin's copies are not here to be checked: the one
			// copy shown is the bundle's, checked as it was opened.
			c.SHA256 = cf.sum
			c.Copies = []model.Copy{{Kind: "bundle", Location: b.Path + " (" + name + ", redacted)", State: model.CopyVerified, SHA256: cf.sum, Verified: time.Now()}}
		} else {
			c.Size = 0
			c.Copies = nil
		}
	}
	return nil
}

func readOnly() error {
	return model.Errorf(model.ErrInvalid, "a pulled incident is read-only")
}

func (b *BundleStore) NewIncident(string) (model.Incident, error) {
	return model.Incident{}, readOnly()
}
func (b *BundleStore) Incidents() ([]model.Incident, error) {
	return []model.Incident{b.incident}, nil
}
func (b *BundleStore) Incident(ref string) (model.Incident, error) {
	if ref == "" || strings.HasPrefix(b.incident.ID, ref) {
		return b.incident, nil
	}
	return model.Incident{}, model.Errorf(model.ErrNotFound, "incident %s is not in %s", ref, b.Path)
}
func (b *BundleStore) UseIncident(string) (model.Incident, error)   { return b.incident, readOnly() }
func (b *BundleStore) CloseIncident(string) (model.Incident, error) { return b.incident, readOnly() }
func (b *BundleStore) CurrentIncident() (model.Incident, error)     { return b.incident, nil }
func (b *BundleStore) CreateCapture(string, model.NewCapture) (model.Capture, error) {
	return model.Capture{}, readOnly()
}
func (b *BundleStore) PutChunk(string, string, uint64, []byte) (uint64, error) { return 0, readOnly() }
func (b *BundleStore) WaitCommitted(string, string, uint64) (uint64, error)    { return 0, readOnly() }
func (b *BundleStore) FollowJournal(string, string) error                      { return readOnly() }
func (b *BundleStore) SealJournal(string, string, int64, string) (model.Capture, error) {
	return model.Capture{}, readOnly()
}
func (b *BundleStore) SealCapture(string, string, model.Seal) (model.Capture, error) {
	return model.Capture{}, readOnly()
}
func (b *BundleStore) Captures(string) ([]model.Capture, error) { return b.captures, nil }
func (b *BundleStore) Capture(ref string) (model.Capture, error) {
	id := ref[strings.LastIndexByte(ref, '/')+1:]
	for _, c := range b.captures {
		if c.ID == id {
			return c, nil
		}
	}
	return model.Capture{}, model.Errorf(model.ErrNotFound, "%s is not in %s", ref, b.Path)
}
func (b *BundleStore) WriteContent(ctx context.Context, ref string, from int64, w io.Writer) error {
	c, err := b.Capture(ref)
	if err != nil {
		return err
	}
	p, ok := b.files[c.ID]
	if !ok {
		return nil // listed in incident.json, not in the bundle: nothing to show
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return err
	}
	_, err = io.Copy(w, untilDone{ctx, f})
	return err
}

// WriteText derives a session's text as the store would have.
func (b *BundleStore) WriteText(ctx context.Context, ref string, w io.Writer) error {
	c, err := b.Capture(ref)
	if err != nil {
		return err
	}
	if c.Recording == nil {
		return b.WriteContent(ctx, ref, 0, w)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(b.WriteContent(ctx, ref, 0, pw)) }()
	defer pr.Close()
	return terminal.DeriveText(pr, w)
}
func (b *BundleStore) AddNote(string, string) (model.Event, error) {
	return model.Event{}, readOnly()
}
func (b *BundleStore) AddMarker(string, string, string, float64) (model.Event, error) {
	return model.Event{}, readOnly()
}
func (b *BundleStore) AddEvent(string, string, string, string) (model.Event, error) {
	return model.Event{}, readOnly()
}
func (b *BundleStore) Events(string) ([]model.Event, error) { return b.events, nil }

// Search finds lines in the bundle's captures (sessions by their output).
func (b *BundleStore) Search(ctx context.Context, q model.SearchQuery, each func(model.Match) error) error {
	re, err := q.Matcher()
	if err != nil {
		return err
	}
	found := 0
	errEnough := errors.New("enough")
	for _, c := range b.captures {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(Output(ctx, b, c, pw)) }()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		var err error
		for i := int64(1); err == nil && sc.Scan(); i++ {
			clean := sanitize.AppendSearchText(nil, sc.Bytes())
			if !re.Match(clean) {
				continue
			}
			found++
			err = each(model.Match{Incident: b.incident.ID, Item: c.ID, Line: i, Text: string(clean)})
			if err == nil && q.Limit > 0 && found >= q.Limit {
				err = errEnough
			}
		}
		pr.Close()
		if err == nil {
			err = sc.Err()
		}
		if err == errEnough {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Verify checks the bundle against its manifest again.
func (b *BundleStore) Verify(ctx context.Context, _ string) (model.VerifyReport, error) {
	f, err := os.Open(b.Path)
	if err != nil {
		return model.VerifyReport{}, err
	}
	defer f.Close()
	ok, problems, err := VerifyBundle(bufio.NewReaderSize(untilDone{ctx, f}, 1<<20))
	if err != nil && ctx.Err() != nil {
		return model.VerifyReport{}, ctx.Err() // stopped, not a bad bundle
	}
	rep := model.VerifyReport{Captures: len(b.captures), Copies: ok + len(problems), Bundle: b.Path}
	for _, p := range problems {
		rep.Problems = append(rep.Problems, model.Problem{Incident: b.incident.ID, Copy: model.Copy{Kind: "bundle", Location: b.Path, State: model.CopyMismatch, Error: p}})
	}
	return rep, err
}
func (b *BundleStore) Check() (model.CheckReport, error) {
	return model.CheckReport{Path: b.Path, Schema: model.SchemaVersion}, nil
}

// Close removes the unpacked files.
func (b *BundleStore) Close() error { return b.dir.Remove() }

// untilDone is a reader that fails once ctx is done: a read of the bundle
// stops between two reads when its reader has gone.
type untilDone struct {
	ctx context.Context
	r   io.Reader
}

func (u untilDone) Read(p []byte) (int, error) {
	if err := u.ctx.Err(); err != nil {
		return 0, err
	}
	return u.r.Read(p)
}

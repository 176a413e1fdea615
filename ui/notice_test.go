package ui

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gdamore/tcell/v2"
	"github.com/klauspost/compress/s2"
	bolt "go.etcd.io/bbolt"

	"calm/model"
	"calm/storage"
)

// tamperChunk replaces old by new in the first stored chunk of a capture,
// in the bbolt file itself, keeping the CRC it carries (if any) as it was:
// damage that only a check finds.
func tamperChunk(t *testing.T, path string, c model.Capture, old, new string) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		cb := tx.Bucket([]byte("incidents")).Bucket([]byte(c.Incident)).Bucket([]byte("chunks")).Bucket([]byte(c.ID))
		key := binary.BigEndian.AppendUint64(nil, 0)
		v := cb.Get(key)
		// storage/chunk.go: a tag (0 raw, 1 S2; 2 and 3 the same with a
		// CRC-32C of 4 bytes after it), then the bytes.
		head := 1
		if v[0] >= 2 {
			head = 5
		}
		data := append([]byte(nil), v[head:]...)
		if v[0] == 1 || v[0] == 3 { // S2
			if data, err = s2.Decode(nil, v[head:]); err != nil {
				return err
			}
		}
		if !bytes.Contains(data, []byte(old)) {
			return fmt.Errorf("chunk 0 of %s does not hold %q", c.ID, old)
		}
		out := []byte{0} // raw
		if v[0] >= 2 {
			out = append([]byte{2}, v[1:5]...) // raw, its CRC as it was
		}
		return cb.Put(key, append(out, bytes.ReplaceAll(data, []byte(old), []byte(new))...))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// noticeRelay passes the store's notices to the UI once there is one.
type noticeRelay struct {
	mu   sync.Mutex
	ui   *UI
	held []string
}

func (r *noticeRelay) say(n string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ui == nil {
		r.held = append(r.held, n)
		return
	}
	r.ui.Notice(n)
}

func (r *noticeRelay) attach(u *UI) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ui = u
	for _, n := range r.held {
		u.Notice(n)
	}
}

// TestDamagedStoreCopyIsShownFromAVerifiedCopyWithANotice damages a
// capture in a real bbolt file: the viewer and the incident search show
// the evidence copy's text, and a bar inside the UI names that copy while
// it runs; with the evidence copy gone too, the viewer shows nothing of the
// damaged bytes and says so in one line.
func TestDamagedStoreCopyIsShownFromAVerifiedCopyWithANotice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calm.db")
	db, err := storage.Open(storage.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	var doc strings.Builder
	for i := range 30 {
		fmt.Fprintf(&doc, "record %02d: the original value\n", i)
	}
	c := saveCapture(t, db, "before the update", doc.String())
	db.Close()
	tamperChunk(t, path, c, "record 20: the original", "record 20: the TAMPERED")

	for _, evidence := range []string{"kept", "gone"} {
		t.Run("evidence "+evidence, func(t *testing.T) {
			if evidence == "gone" {
				os.Remove(c.Copies[1].Location)
			}
			relay := &noticeRelay{}
			db, err := storage.Open(storage.Options{Path: path, Notice: relay.say})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			h := start(t, db, 160, 40, Options{})
			relay.attach(h.ui)
			if evidence == "gone" {
				screen := h.waitFor("could not read: store is damaged: the store's copy of " + c.Incident + "/c1 does not ma")
				if strings.Contains(screen, "TAMPERED") || strings.Contains(screen, "record 20") {
					t.Fatalf("damaged bytes on the screen:\n%s", screen)
				}
				return
			}
			screen := h.waitFor("record 20: the original value")
			if strings.Contains(screen, "TAMPERED") {
				t.Fatalf("damaged bytes on the screen:\n%s", screen)
			}
			screen = h.waitFor("evidence copy")
			if !strings.Contains(screen, "does not match its SHA-256") {
				t.Fatalf("no notice of the damaged store copy inside the UI:\n%s", screen)
			}
			h.press(tcell.KeyCtrlF)
			h.waitFor("search incident:")
			h.press("record 20", tcell.KeyEnter)
			screen = h.waitFor("1 match")
			if !strings.Contains(screen, "the original value") || strings.Contains(screen, "TAMPERED") {
				t.Fatalf("search did not give the verified copy's line:\n%s", screen)
			}
			if !strings.Contains(screen, "evidence copy") {
				t.Fatalf("the notice went away:\n%s", screen)
			}
		})
	}
}

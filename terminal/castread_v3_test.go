package terminal

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type castEvent struct {
	at         float64
	kind, data string
}

func readCastFile(t *testing.T, name string) (Header, []castEvent, *CastReader) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "asciinema", name))
	if err != nil {
		t.Fatal(err)
	}
	var h Header
	var evs []castEvent
	r := &CastReader{
		Header: func(got Header) { h = got },
		Event:  func(at float64, kind, data string) { evs = append(evs, castEvent{at, kind, data}) },
	}
	// In pieces, as a stream arrives.
	for len(data) > 0 {
		k := min(len(data), 7)
		r.Write(data[:k])
		data = data[k:]
	}
	r.Close()
	return h, evs, r
}

// asciinema's own v2 and v3 fixtures of one session: v3's intervals become
// times from the start, its size comes from "term".
func TestCastReaderReadsAsciinemasV2AndV3(t *testing.T) {
	h2, v2, r2 := readCastFile(t, "full-v2.cast")
	h3, v3, r3 := readCastFile(t, "full-v3.cast")
	if r2.Version != 2 || r3.Version != 3 {
		t.Fatalf("versions %d and %d, want 2 and 3", r2.Version, r3.Version)
	}
	for _, h := range []Header{h2, h3} {
		if h.Version != 2 || h.Width != 100 || h.Height != 50 || h.Timestamp != 1509091818 || h.Env["TERM"] != "xterm-256color" {
			t.Fatalf("header %+v", h)
		}
	}
	want3 := []castEvent{{0.000001, "o", "ż"}, {1.000001, "o", "ółć"}, {1.300001, "i", "\n"}, {2.900002, "r", "80x40"}, {13.400002, "o", "\r\n"}}
	if len(v3) != len(want3) || len(v2) != len(want3) {
		t.Fatalf("v2 %v, v3 %v", v2, v3)
	}
	for i, w := range want3 {
		if g := v3[i]; g.kind != w.kind || g.data != w.data || math.Abs(g.at-w.at) > 1e-9 {
			t.Fatalf("v3 event %d = %+v, want %+v", i, g, w)
		}
		if v2[i].kind != w.kind || v2[i].data != w.data {
			t.Fatalf("v2 event %d = %+v", i, v2[i])
		}
	}
	if r2.Skipped != 0 || r3.Skipped != 0 {
		t.Fatalf("skipped %d and %d lines", r2.Skipped, r3.Skipped)
	}
	for _, name := range []string{"minimal-v2.cast", "minimal-v3.cast", "nulls-v2.cast"} {
		h, evs, _ := readCastFile(t, name)
		if h.Width != 100 || h.Height != 50 || len(evs) != 1 || evs[0] != (castEvent{1.23, "o", "hello"}) {
			t.Fatalf("%s: header %+v, events %+v", name, h, evs)
		}
	}
}

func TestCastReaderSkipsV3Comments(t *testing.T) {
	var got []string
	r := &CastReader{Event: func(at float64, _, data string) { got = append(got, fmt.Sprintf("%.1f %s", at, data)) }}
	r.Write([]byte("{\"version\": 3, \"term\": {\"cols\": 80, \"rows\": 24}}\n# a comment\n\n[0.5, \"o\", \"a\"]\n[0.5, \"o\", \"b\"]\n[1, \"x\", \"0\"]\n"))
	r.Close()
	if strings.Join(got, ",") != "0.5 a,1.0 b,2.0 0" || r.Skipped != 0 {
		t.Fatalf("events %q, skipped %d", got, r.Skipped)
	}
}

// A real session from asciinema (fish, with its prompt redraws) derives to
// what its terminal showed.
func TestDeriveTextOfAsciinemasDemo(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "asciinema", "demo.cast"))
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := DeriveText(bytes.NewReader(data), &text); err != nil {
		t.Fatal(err)
	}
	plain := string(PlainText(text.Bytes()))
	if !strings.Contains(plain, "~/c/a/asciinema (develop ↩☡=)") {
		t.Fatalf("derived text:\n%s", plain)
	}
}

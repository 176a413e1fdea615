package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"calm/model"
	"calm/storage"
)

// TestRepeatedCreatingRequestGetsTheFirstAnswer sends the same creating
// requests twice under one request ID, as a client does when the agent died
// after committing but before answering, across an agent restart too: each
// is created once, and the repeat gets the first answer. (Answers expire:
// storage's TestRequestAnswersOutliveARestartAndExpire.)
func TestRepeatedCreatingRequestGetsTheFirstAnswer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calm.db")
	db, err := storage.Open(storage.Options{Path: path, StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	a := &Server{DB: db, Socket: filepath.Join(t.TempDir(), "agent.sock")}
	l, err := a.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, l) }()
	c := NewClient(a.Socket, nil, "")
	defer c.Close()
	post := func(path, query, id, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://calm"+path+"?"+query, strings.NewReader(body))
		req.Header.Set(requestHeader, id)
		resp, err := c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d %v", path, resp.StatusCode, err)
		}
		return out
	}
	inc1 := post("/v1/incidents", "", "req-incident", `{"Title":"once"}`)
	inc2 := post("/v1/incidents", "", "req-incident", `{"Title":"once"}`)
	if inc1["id"] != inc2["id"] {
		t.Fatalf("a repeated incident request made a second incident: %v then %v", inc1["id"], inc2["id"])
	}
	id := inc1["id"].(string)
	n1 := post("/v1/notes", "incident="+id, "req-note", `{"Text":"only once"}`)
	n2 := post("/v1/notes", "incident="+id, "req-note", `{"Text":"only once"}`)
	c1 := post("/v1/captures", "incident="+id, "req-capture", `{"title":"t","source":"tee"}`)
	c2 := post("/v1/captures", "incident="+id, "req-capture", `{"title":"t","source":"tee"}`)
	if n1["seq"] != n2["seq"] || c1["id"] != c2["id"] {
		t.Fatalf("repeats were created again: notes %v %v, captures %v %v", n1["seq"], n2["seq"], c1["id"], c2["id"])
	}
	// A different ID is a different request.
	if n3 := post("/v1/notes", "incident="+id, "req-note-2", `{"Text":"only once"}`); n3["seq"] == n1["seq"] {
		t.Fatal("a new request ID got an old answer")
	}
	caps, _ := db.Captures(id)
	events, _ := db.Events(id)
	notes := 0
	for _, ev := range events {
		if ev.Kind == model.EventNote {
			notes++
		}
	}
	if len(caps) != 1 || notes != 2 {
		t.Fatalf("the store holds %d captures and %d notes: want 1 and 2", len(caps), notes)
	}
	// The answers outlive the agent: the repeat may reach the next one.
	stop()
	<-served
	db.Close()
	db2, err := storage.Open(storage.Options{Path: path, StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if _, err := db2.Request("req-note").AddNote(id, "only once"); err != nil {
		t.Fatal(err)
	}
	if got := countEvents(t, db2, id); got != len(events) {
		t.Fatalf("after a restart, the repeated note was added again: %d events, was %d", got, len(events))
	}
}

func countEvents(t *testing.T, db *storage.DB, incident string) int {
	t.Helper()
	events, err := db.Events(incident)
	if err != nil {
		t.Fatal(err)
	}
	return len(events)
}

// answerLost is the agent's client, except that the first capture it
// creates loses its answer on the way back, as when the agent is killed
// after committing the capture but before answering.
type answerLost struct {
	*Client
	lost bool
}

func (a *answerLost) CreateCapture(incident string, nc model.NewCapture) (model.Capture, error) {
	c, err := a.Client.CreateCapture(incident, nc)
	if err == nil && !a.lost {
		a.lost = true
		return model.Capture{}, errors.New("read unix @->agent.sock: read: connection reset by peer")
	}
	return c, err
}

// TestCaptureWriterRetriesItsCreationAsOneRequest: a writer that retries
// creating its capture after a lost answer gets the capture the agent made,
// not a second one that would end up sealed as interrupted.
func TestCaptureWriterRetriesItsCreationAsOneRequest(t *testing.T) {
	db, err := storage.Open(storage.Options{Path: filepath.Join(t.TempDir(), "calm.db"), StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := startAgent(t, db, time.Minute)
	inc, err := c.NewIncident("lost answers")
	if err != nil {
		t.Fatal(err)
	}
	store := &answerLost{Client: c}
	w, err := model.NewCaptureWriter(store, inc.ID, model.NewCapture{Title: "once", Source: "tee"})
	if err != nil {
		t.Fatal(err)
	}
	if !store.lost {
		t.Fatal("no answer was lost: the test tests nothing")
	}
	w.Write([]byte("hello\n"))
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	caps, err := db.Captures(inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(caps) != 1 || caps[0].ID != w.Capture.ID {
		t.Fatalf("the store holds %d captures (%v), the writer wrote %s: want that one only", len(caps), caps, w.Capture.ID)
	}
}

package cli

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

const mongoTranscript = `rs0:PRIMARY> db.users.find({email: "ada@example.com"}).pretty()
{
	"_id" : ObjectId("5f1d7a3e9b1e8a3c4d2f0a11"),
	"email" : "ada@example.com",
	"name" : "Ada",
	"roles" : [
		"admin",
		"billing"
	],
	"created" : ISODate("2020-07-26T10:12:14.512Z"),
	"logins" : NumberLong(1234567890123)
}
rs0:PRIMARY> db.users.replaceOne({email: "ada@example.com"}, {email: "ada@example.com"})
{ "acknowledged" : true, "matchedCount" : 1, "modifiedCount" : 1 }
`

// TestTUIEndToEnd drives the built binary in a real terminal (tmux) as a
// responder would: open the incident, search it, extract the document the
// update replaced, and yank it to the clipboard (by OSC 52: no display). A hostile capture viewed on
// the way must not reach the terminal: no title, no clipboard write.
func TestTUIEndToEnd(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "users overwritten")
	w.ok([]byte(mongoTranscript), "tee", "-q", "mongo find")
	w.ok([]byte("harmless\x1b]52;c;cm0gLXJmIC8K\x07\x1b]2;pwned\x07\x1b[?1000h\x1b[?1049h\x1b[6n\x1bP+q544e\x1b\\ text\n"), "tee", "-q", "hostile")
	tm := newTmux(t)
	// The pane's shell says how calm ended (tmux 3.3 does not always report
	// a dead pane's status).
	// With no display, a clipboard tool (xclip, as CI installs) cannot
	// copy, and calm falls back to OSC 52 through tmux, which this checks.
	tm.start("env -u DISPLAY -u WAYLAND_DISPLAY " + w.envPrefix() + "sh -c '" + calmBin + "; echo calm exited $?; sleep 60'")
	tm.waitFor("users overwritten", 10*time.Second)
	tm.waitFor("hostile", 5*time.Second)

	// The hostile capture first: shown as text, acting on nothing.
	tm.waitFor("harmless", 5*time.Second) // the newest item opens at once
	// (The TUI itself turns the mouse and the alternate screen on, so only
	// the title and the clipboard can show a leak while it runs.)
	if title := tm.run("display", "-p", "-t", "t", "#{pane_title}"); strings.Contains(title, "pwned") {
		t.Fatalf("a viewed capture set the terminal's title: %q", title)
	}
	if bufs := tm.run("list-buffers"); strings.Contains(bufs, "rm -rf") || bufs != "" {
		t.Fatalf("a viewed capture wrote the clipboard: %q", bufs)
	}

	// Search the incident for the document's id; the match opens its item.
	tm.press("C-f")
	tm.waitFor("search incident:", 5*time.Second)
	tm.typeText("5f1d7a3e")
	tm.press("Enter")
	tm.waitFor("1 match", 10*time.Second)
	tm.press("Enter")
	tm.waitFor(`"email" : "ada@example.com",`, 5*time.Second)
	tm.press("x")
	tm.waitFor("block: lines 2–12", 5*time.Second)
	tm.press("y")
	tm.waitFor("OSC 52", 5*time.Second)
	want := mongoTranscript[strings.Index(mongoTranscript, "{\n") : strings.Index(mongoTranscript, "\n}\n")+2]
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf, _ := exec.Command("tmux", "-L", tm.socket, "show-buffer").Output()
		if string(buf) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tmux's clipboard holds %q, want the document %q", buf, want)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Quitting asks first, and leaves the shell's terminal as it was.
	tm.press("q")
	tm.waitFor("Quit calm?", 5*time.Second)
	tm.press("y")
	tm.waitFor("calm exited 0", 5*time.Second)
	if state := tm.run("display", "-p", "-t", "t", "#{mouse_any_flag}|#{alternate_on}"); strings.TrimSpace(state) != "0|0" {
		t.Fatalf("after quitting: mouse, alternate screen = %q, want 0|0", state)
	}
}

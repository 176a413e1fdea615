package capture

import (
	"strings"
	"testing"
)

func TestDestructiveCommandsAreMarked(t *testing.T) {
	marked := map[string]string{
		"rm -rf /var/lib/mongo":                      "rm -rf",
		"sudo rm -fr build":                          "rm -rf",
		"rm -r -f data":                              "rm -rf",
		"DROP TABLE users;":                          "DROP",
		"db.orders.drop()":                           "DROP",
		"TRUNCATE orders;":                           "TRUNCATE",
		"DELETE FROM users;":                         "DELETE without WHERE",
		"UPDATE users SET name='x';":                 "UPDATE without WHERE",
		`db.users.replaceOne({_id: 1}, {name: "x"})`: "Mongo write",
		"db.users.updateMany({}, {$set: {a: 1}})":    "Mongo write",
		"kubectl -n prod delete pod api-0":           "kubectl delete",
		"terraform destroy -auto-approve":            "terraform destroy",
		"redis-cli FLUSHALL":                         "FLUSHALL",
		"git push origin main --force":               "force push",
	}
	for line, want := range marked {
		if got, ok := Check(DefaultMarks, line); !ok || got != want {
			t.Errorf("%q: marked %q (%v), want %q", line, got, ok, want)
		}
	}
	for _, line := range []string{
		"UPDATE users SET name='x' WHERE id=1;",
		"DELETE FROM users WHERE id = 3;",
		"ls -rf",
		"db.users.find({})",
		"kubectl get pods",
		"echo form",
	} {
		if got, ok := Check(DefaultMarks, line); ok {
			t.Errorf("%q marked as %q", line, got)
		}
	}
}

func TestLineWatcherSeesWhatWasSubmitted(t *testing.T) {
	var got []string
	var w LineWatcher
	w.Feed([]byte("UPDATE usrx\x7f\x7fers SET\x1b[D\x1b[C name='x';\r"), func(l string) { got = append(got, l) })
	w.Feed([]byte("typo\x15ls\r\r"), func(l string) { got = append(got, l) })
	if len(got) != 2 || got[0] != "UPDATE users SET name='x';" || got[1] != "ls" {
		t.Fatalf("lines %q", got)
	}
}

// TestPromptWatcherFindsCommandsInEchoedOutput: calm split sees only a
// pane's output; the commands a person submits are the lines after a prompt,
// as bash, psql and the Mongo shell echo them, with colours, backspaces and
// readline's redraws applied, and at the place where their line began.
func TestPromptWatcherFindsCommandsInEchoedOutput(t *testing.T) {
	var w PromptWatcher
	var got []string
	var ats []float64
	submit := func(c string, at float64) { got, ats = append(got, c), append(ats, at) }
	w.Feed([]byte("\x1b]0;ada@db1\x07\x1b[32mada@db1\x1b[0m:~$ "), 1, submit)
	w.Feed([]byte("rm -rf /var/lib/x"), 2, submit)
	w.Feed([]byte("\b \by\r\n"), 3, submit) // typed, one erased as bash echoes it, one more, Enter
	w.Feed([]byte("removed '/var/lib/y'\r\nrs0:PRIMARY> db.users.deleteMany({})\r\n{ deletedCount: 3 }\r\n"), 4, submit)
	// Up arrow: readline draws the line again from its start.
	w.Feed([]byte("postgres=# SELECT 1\r\x1b[Kpostgres=# DROP TABLE users;\r\n"), 5, submit)
	want := []string{"rm -rf /var/lib/y", "db.users.deleteMany({})", "DROP TABLE users;"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("commands %q, want %q", got, want)
	}
	if ats[0] != 1 || ats[1] != 4 || ats[2] != 5 {
		t.Fatalf("the commands' lines began at %v, want 1, 4, 5", ats)
	}
	for _, c := range got {
		if _, ok := Check(DefaultMarks, c); !ok {
			t.Errorf("%q is not marked", c)
		}
	}
}

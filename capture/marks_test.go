package capture

import (
	"strings"
	"testing"
)

func TestDestructiveCommandsAreMarked(t *testing.T) {
	marked := map[string]string{
		"rm -rf /var/lib/mongo":                                    "rm -rf",
		"sudo rm -fr build":                                        "rm -rf",
		"rm -r -f data":                                            "rm -rf",
		"DROP TABLE users;":                                        "DROP",
		"db.orders.drop()":                                         "DROP",
		"TRUNCATE orders;":                                         "TRUNCATE",
		"DELETE FROM users;":                                       "DELETE without WHERE",
		"UPDATE users SET name='x';":                               "UPDATE without WHERE",
		`db.users.replaceOne({_id: 1}, {name: "x"})`:               "Mongo write",
		"db.users.updateMany({}, {$set: {a: 1}})":                  "Mongo write",
		"kubectl -n prod delete pod api-0":                         "kubectl delete",
		"mongoimport --db prod -c users --drop --file before.json": "mongoimport/mongorestore --drop",
		"mongorestore --drop dump/":                                "mongoimport/mongorestore --drop",
		"mongoimport -c users --mode=upsert --file before.json":    "mongoimport upsert",
		"mongoimport -c users --mode merge --file before.json":     "mongoimport upsert",
		"terraform destroy -auto-approve":                          "terraform destroy",
		"redis-cli FLUSHALL":                                       "FLUSHALL",
		"git push origin main --force":                             "force push",
		// What a comment says is not what runs; quotes hide no comment.
		`db.orders.updateOne({_id:1},{status:"x"}) # rm -rf /`: "Mongo write",
		`mongosh --eval 'db.a.deleteMany({}) # all'`:           "Mongo write",
		`echo "db.users.drop()" | mongosh`:                     "DROP",
	}
	for line, want := range marked {
		if got, ok := Check(DefaultMarks(), line); !ok || got != want {
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
		"ls # rm -rf / would be bad",
		"mongoimport -c users --file new.json", // inserts only
		"mongodump --out dump/",
	} {
		if got, ok := Check(DefaultMarks(), line); ok {
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
// readline's redraws applied, each when the output ending its line came.
func TestPromptWatcherFindsCommandsInEchoedOutput(t *testing.T) {
	var w PromptWatcher
	var got []string
	var ats []int
	feed := func(p string, at int) {
		w.Feed([]byte(p), func(c string) { got, ats = append(got, c), append(ats, at) })
	}
	feed("\x1b]0;ada@db1\x07\x1b[32mada@db1\x1b[0m:~$ ", 1)
	feed("rm -rf /var/lib/x", 2)
	feed("\b \by\r\n", 3) // typed, one erased as bash echoes it, one more, Enter
	feed("removed '/var/lib/y'\r\nrs0:PRIMARY> db.users.deleteMany({})\r\n{ deletedCount: 3 }\r\n", 4)
	// Up arrow: readline draws the line again from its start.
	feed("postgres=# SELECT 1\r\x1b[Kpostgres=# DROP TABLE users;\r\n", 5)
	want := []string{"rm -rf /var/lib/y", "db.users.deleteMany({})", "DROP TABLE users;"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("commands %q, want %q", got, want)
	}
	if ats[0] != 3 || ats[1] != 4 || ats[2] != 5 {
		t.Fatalf("the commands were entered with output %v, want 3, 4, 5 (the Enter's, not the prompt's)", ats)
	}
	for _, c := range got {
		if _, ok := Check(DefaultMarks(), c); !ok {
			t.Errorf("%q is not marked", c)
		}
	}
}

// Typed, an escape sequence is a key: cursor and function keys (CSI, SS3),
// bracketed paste's markers, or a character typed with Alt, ESC ] and ESC P
// too (what follows them is typed text, not a string to skip).
func TestLineWatcherSkipsKeysAsTyped(t *testing.T) {
	var got []string
	var w LineWatcher
	for _, p := range []string{
		"ls\x1b[D\x1b[1;5C\x1bOA -l\r",          // arrows, Ctrl-arrow, application-mode arrow
		"\x1b[200~echo pasted\x1b[201~\r",       // bracketed paste
		"git st\x1b]atus\r",                     // Alt-] then text
		"rm \x1bP-rf x\r",                       // Alt-P then text
		"\x1b\xc3\xa9\x1b\x1bcd /tmp\r",         // Alt-é, Alt-ESC
		"echo a\x1b[1", ";2", "Db\x1bO", "Bc\r", // keys cut between reads
	} {
		w.Feed([]byte(p), func(l string) { got = append(got, l) })
	}
	want := []string{"ls -l", "echo pasted", "git status", "rm -rf x", "cd /tmp", "echo abc"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("lines %q, want %q", got, want)
	}
}

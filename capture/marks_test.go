package capture

import "testing"

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

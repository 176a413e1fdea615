package model

import (
	"fmt"
	"os"
	"syscall"
)

// WritableByOthers says why a file that changes what calm does (the config,
// a team's checklist) could be changed by someone else: it is writable by
// its group or by all, or belongs to another user than this one or root;
// "" when it could not. Whoever can change the config can send the team
// message to their own webhook, or a checklist can tell a responder to run
// their script.
func WritableByOthers(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Sprintf("others can change it (mode %04o): 'chmod go-w %s' makes it yours alone", perm, path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() && st.Uid != 0 {
		return fmt.Sprintf("it belongs to another user (uid %d), who can change it: copy it to a file of your own", st.Uid)
	}
	return ""
}

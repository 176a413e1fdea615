package cli

import (
	"slices"
	"strings"
	"unsafe"

	"calm/report"
)

// HideSecrets keeps the secrets in a command handed to calm shell (calm
// shell -- mysql -pSECRET) from the other users of the machine, who can read
// any process's arguments (ps, /proc/PID/cmdline) for as long as the session
// runs: it writes over each secret's bytes in args' own memory, which is
// what the kernel shows as calm's command line (os.Args' strings are that
// memory), as mysql does with its own. It returns args copied first: calm
// itself runs the command as typed. Only for os.Args: a string elsewhere
// may not be writable.
func HideSecrets(args []string) []string {
	own := make([]string, len(args))
	for i, a := range args {
		own[i] = strings.Clone(a)
	}
	for _, r := range secretsInCommand(own) {
		b := unsafe.Slice(unsafe.StringData(args[r.arg]), len(args[r.arg]))
		for k := r.start; k < r.end; k++ {
			b[k] = 'x'
		}
	}
	return own
}

// argRange is a secret's bytes in one argument.
type argRange struct{ arg, start, end int }

// secretsInCommand finds the secrets in the command calm shell is given
// (the arguments after "--"), as the exports' redaction finds them.
func secretsInCommand(args []string) []argRange {
	dash := slices.Index(args, "--")
	if dash < 0 || !slices.Contains(args[:dash], "shell") {
		return nil
	}
	r, err := report.NewRedactor(nil)
	if err != nil {
		return nil
	}
	// The command line as one text, each argument at its offset.
	var text []byte
	at := make([]int, len(args))
	for i := dash + 1; i < len(args); i++ {
		at[i] = len(text)
		text = append(append(text, args[i]...), ' ')
	}
	var out []argRange
	for _, s := range r.Secrets(text) {
		for i := dash + 1; i < len(args); i++ {
			start, end := max(s[0]-at[i], 0), min(s[1]-at[i], len(args[i]))
			if start < end {
				out = append(out, argRange{i, start, end})
			}
		}
	}
	return out
}

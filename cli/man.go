package cli

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"calm/ui"
)

// The man page is made from the command tree, so it says what the help
// says: one page, calm(1), every command and its flags.

// manCommand is calm man: calm(1) as roff (calm man | man -l -).
func (r *runner) manCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "man",
		Short: "print the manual page, calm(1), as roff (calm man | man -l -)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			bw := bufio.NewWriter(r.stdout)
			writeMan(bw, c.Root())
			return bw.Flush()
		},
	}
}

// roff escapes text for a man page: backslashes, dashes (so they stay
// ASCII hyphens, searchable), and a leading . or ' that would be a request.
func roff(s string) string {
	s = strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

func writeMan(w io.Writer, root *cobra.Command) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p(`.TH CALM 1 "" "calm %s" "User Commands"`, roff(Version))
	p(".nh") // no hyphenation: words stay whole, as searched
	p(".SH NAME")
	p(`calm \- %s`, roff(root.Short))
	p(".SH SYNOPSIS")
	p(`.B calm`)
	p(`[\fB\-\-store\fR \fIFILE\fR] [\fB\-\-mirror\fR \fIDIR\fR]... [\fB\-\-config\fR \fIFILE\fR] [\fICOMMAND\fR [\fIARGS\fR]]`)
	p(".SH DESCRIPTION")
	p("%s", roff(root.Long))
	p(".PP")
	p("Flags may come before or after the arguments; \\fB\\-\\-\\fR ends them. \\fBcalm help\\fR \\fICOMMAND\\fR and \\fBcalm\\fR \\fICOMMAND\\fR \\fB\\-\\-help\\fR say the same as this page about one command.")
	p(".SH GLOBAL FLAGS")
	writeManFlags(w, root.PersistentFlags())
	p(".SH COMMANDS")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, s := range c.Commands() {
			if !s.IsAvailableCommand() || s.Name() == "help" {
				continue
			}
			p(`.SS "%s"`, strings.ReplaceAll(roff(s.UseLine()), `"`, `\(dq`))
			p("%s", roff(s.Short))
			if len(s.Aliases) > 0 {
				p(".br")
				p("Also: %s.", roff(strings.Join(s.Aliases, ", ")))
			}
			writeManFlags(w, s.LocalNonPersistentFlags())
			walk(s)
		}
	}
	walk(root)
	p(".SH KEYS")
	p("In the TUI (\\fBcalm\\fR, \\fBcalm ui\\fR, \\fBcalm review\\fR); \\fB?\\fR shows the same list.")
	where := ""
	for _, k := range ui.Keys() {
		if k.Where != where {
			where = k.Where
			p(`.SS "%s"`, strings.ReplaceAll(roff(where), `"`, `\(dq`))
		}
		p(".TP")
		p(`\fB%s\fR`, roff(strings.Join(k.Keys, ", ")))
		p("%s", roff(k.What))
	}
	p(".SH ENVIRONMENT")
	for _, v := range [][2]string{
		{"CALM_HOME", "the folder of the store (calm.db), its journal and evidence; default $XDG_DATA_HOME/calm"},
		{"CALM_CONFIG", "the config file; default $XDG_CONFIG_HOME/calm/config.toml"},
		{"CALM_SOCKET", "the agent's Unix socket; default one per store in $XDG_RUNTIME_DIR/calm"},
		{"CALM_AGENT_IDLE", "how long an idle agent waits before it exits (a Go duration, 10m by default)"},
		{"CALM_NO_PROGRESS", "set to 1: no progress bars, even on a terminal"},
		{"CALM_S3_ENDPOINT", "the S3 endpoint for s3:// mirrors (credentials come from the AWS environment)"},
	} {
		p(".TP")
		p(`\fB%s\fR`, v[0])
		p("%s", roff(v[1]))
	}
	p(".SH EXIT STATUS")
	p("0 on success; 1 when a command fails (for search: nothing found; for verify: a copy does not match); 2 for a usage error; a recorded shell's own status for shell; 128+N after signal N.")
	p(".SH SEE ALSO")
	p(`\fBscript\fR(1), \fBtmux\fR(1), \fBgrep\fR(1), \fBasciinema\fR(1)`)
}

func writeManFlags(w io.Writer, flags *pflag.FlagSet) {
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == "help" {
			return
		}
		name := `\fB\-\-` + roff(f.Name) + `\fR`
		if f.Shorthand != "" {
			name = `\fB\-` + roff(f.Shorthand) + `\fR, ` + name
		}
		if kind := f.Value.Type(); kind != "bool" {
			name += ` \fI` + roff(kind) + `\fR`
		}
		fmt.Fprintf(w, ".TP\n%s\n%s\n", name, roff(f.Usage))
	})
}

package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"calm/checklist"
	"calm/model"
	"calm/storage/agent"
)

// Shell completion asks the agent for incident and capture ids, as any
// command would (starting it if needed). It never fails out loud: a shell
// that cannot complete just offers nothing.

// completer lists the completions for a word being typed.
type completer func(r *runner, toComplete string) []cobra.Completion

// completeWith makes a cobra completion function that completes the
// command's first argument (or a flag's value) with list, and no files.
func (r *runner) completeWith(list completer, maxArgs int) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if maxArgs >= 0 && len(args) >= maxArgs {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		got := list(r, toComplete)
		return got, cobra.ShellCompDirectiveNoFileComp | noSpaceAfterSlash(got)
	}
}

// noSpaceAfterSlash keeps the cursor on an INCIDENT/ offered, so that the
// next TAB completes the capture in it.
func noSpaceAfterSlash(list []cobra.Completion) cobra.ShellCompDirective {
	for _, c := range list {
		id, _, _ := strings.Cut(c, "\t")
		if strings.HasSuffix(id, "/") {
			return cobra.ShellCompDirectiveNoSpace
		}
	}
	return 0
}

// withStore runs f with a client of this configuration's agent.
func (r *runner) withStore(f func(model.Store)) {
	cfg, err := loadConfig(r.global)
	if err != nil {
		return
	}
	client := agent.NewClient(cfg.socket, cfg.agentCommand(), cfg.agentLog())
	defer client.Close()
	f(client)
}

// completion is one id with its title as the description the shell shows.
func completion(id, title string) cobra.Completion {
	return cobra.CompletionWithDesc(id, strings.ReplaceAll(printable(title), "\t", " "))
}

func completeIncidents(r *runner, toComplete string) []cobra.Completion {
	return incidentsWhere(r, toComplete, func(model.Incident) bool { return true })
}

// completeOpenIncidents offers what 'incident close' can close.
func completeOpenIncidents(r *runner, toComplete string) []cobra.Completion {
	return incidentsWhere(r, toComplete, model.Incident.IsOpen)
}

// completeClosedIncidents offers what 'incident reopen' can reopen.
func completeClosedIncidents(r *runner, toComplete string) []cobra.Completion {
	return incidentsWhere(r, toComplete, func(inc model.Incident) bool { return !inc.IsOpen() })
}

func incidentsWhere(r *runner, toComplete string, keep func(model.Incident) bool) []cobra.Completion {
	var out []cobra.Completion
	r.withStore(func(s model.Store) {
		list, _ := s.Incidents()
		for _, inc := range list {
			if strings.HasPrefix(inc.ID, toComplete) && keep(inc) {
				out = append(out, completion(inc.ID, inc.Title))
			}
		}
	})
	return out
}

// completeCaptures completes c3 from the current incident, or INCIDENT/c3
// once a "/" is typed. A word no capture there begins with may be the
// start of an incident's id, or of the part after its date: that offers
// INCIDENT/ (or SUFFIX/, which the store takes as well and which begins
// with what was typed, as the shells want), and the next TAB the capture.
func completeCaptures(r *runner, toComplete string) []cobra.Completion {
	var out []cobra.Completion
	r.withStore(func(s model.Store) {
		incident, prefix := "", ""
		if i := strings.LastIndexByte(toComplete, '/'); i >= 0 {
			incident, prefix = toComplete[:i], toComplete[:i+1]
		}
		caps, _ := s.Captures(incident)
		for _, c := range caps {
			if id := prefix + c.ID; strings.HasPrefix(id, toComplete) {
				out = append(out, completion(id, c.Title))
			}
		}
		if len(out) > 0 || prefix != "" {
			return
		}
		list, _ := s.Incidents()
		for _, inc := range list {
			_, suffix, _ := strings.Cut(inc.ID, "-")
			switch {
			case strings.HasPrefix(inc.ID, toComplete):
				out = append(out, completion(inc.ID+"/", inc.Title))
			case suffix != "" && strings.HasPrefix(suffix, toComplete) && namesOne(list, suffix):
				out = append(out, completion(suffix+"/", inc.Title))
			}
		}
	})
	return out
}

// namesOne reports whether ref, as the store resolves an incident (a
// prefix of its id or of the part after its date), names one incident.
func namesOne(list []model.Incident, ref string) bool {
	n := 0
	for _, inc := range list {
		_, suffix, _ := strings.Cut(inc.ID, "-")
		if strings.HasPrefix(inc.ID, ref) || strings.HasPrefix(suffix, ref) {
			n++
		}
	}
	return n == 1
}

// completeCurrentStep offers the one step 'calm tick' would tick, by its
// id, with its title: TAB shows what a tick is about to tick.
func completeCurrentStep(r *runner, toComplete string) []cobra.Completion {
	cfg, err := loadConfig(r.global)
	if err != nil {
		return nil
	}
	var out []cobra.Completion
	r.withStore(func(s model.Store) {
		inc, err := s.Incident("")
		if err != nil {
			return
		}
		lists, _ := checklist.Load(cfg.checklistDirs())
		st, _, err := checklist.Progress(s, inc.ID, lists)
		if err != nil || st.Current >= len(st.Steps) {
			return
		}
		if step := st.Steps[st.Current]; strings.HasPrefix(step.ID, toComplete) {
			out = append(out, completion(step.ID, step.Title))
		}
	})
	return out
}

func completeWords(words ...string) completer {
	return func(_ *runner, toComplete string) []cobra.Completion {
		var out []cobra.Completion
		for _, w := range words {
			if strings.HasPrefix(w, toComplete) {
				out = append(out, w)
			}
		}
		return out
	}
}

// addCompletions gives every command and flag that takes an id a way to
// complete it.
func (r *runner) addCompletions(root *cobra.Command) {
	args := map[string]struct {
		list completer
		max  int
	}{
		"show":            {completeCaptures, 1},
		"ui":              {completeIncidents, 1},
		"review":          {completeIncidents, 1},
		"export":          {completeIncidents, 1},
		"push":            {completeIncidents, 1},
		"verify":          {completeIncidents, 1},
		"status":          {completeIncidents, 1},
		"steps":           {completeIncidents, 1},
		"tick":            {completeCurrentStep, 1},
		"incident use":    {completeIncidents, 1},
		"incident close":  {completeOpenIncidents, 1},
		"incident reopen": {completeClosedIncidents, 1},
	}
	flags := map[string]completer{
		"incident": completeIncidents,
		"item":     completeCaptures,
		"format":   completeWords("txt", "json", "md", "html", "cast", "bundle"),
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
		if a, ok := args[path]; ok {
			c.ValidArgsFunction = r.completeWith(a.list, a.max)
		}
		for name, list := range flags {
			if c.Flags().Lookup(name) != nil {
				c.RegisterFlagCompletionFunc(name, r.completeWith(list, -1))
			}
		}
		if path == "move" {
			c.ValidArgsFunction = func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				switch len(args) {
				case 0:
					got := completeCaptures(r, toComplete)
					return got, cobra.ShellCompDirectiveNoFileComp | noSpaceAfterSlash(got)
				case 1:
					return completeIncidents(r, toComplete), cobra.ShellCompDirectiveNoFileComp
				}
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
		}
		if path == "clip" {
			c.RegisterFlagCompletionFunc("out", r.completeWith(completeCaptures, -1))
		}
		if path == "search" {
			// The pattern is the user's; the captures after it are ids.
			c.ValidArgsFunction = func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				if len(args) == 0 {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				got := completeCaptures(r, toComplete)
				return got, cobra.ShellCompDirectiveNoFileComp | noSpaceAfterSlash(got)
			}
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
}

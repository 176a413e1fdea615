package cli

import (
	"bytes"
	"calm/storage/s3"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"calm/storage/agent"
)

// agentSettings are what the agent does that a client's flags and config
// decide: where it copies captures. The rest of the config is read by each
// command, so a change to it needs no restart.
type agentSettings struct {
	Mirrors []string `json:"mirrors"`
	Remotes []string `json:"remotes"`
	S3      S3Config `json:"s3"`
	// Credentials fingerprints the AWS credentials in the environment
	// (s3.EnvCredentials): an agent keeps the ones it started with.
	Credentials string `json:"credentials,omitempty"`
}

func (c Config) agentSettings() agentSettings {
	return agentSettings{Mirrors: c.Mirrors, Remotes: c.remotes, S3: c.S3, Credentials: s3.EnvCredentials()}
}

// lacks says what of want an agent running with have does not do. An agent
// that does more (a mirror since removed from the config) is left alone:
// more copies are never less safe.
func (want agentSettings) lacks(have agentSettings) []string {
	var missing []string
	for _, m := range want.Mirrors {
		if !slices.Contains(have.Mirrors, m) {
			missing = append(missing, "copies to "+m)
		}
	}
	for _, r := range want.Remotes {
		if !slices.Contains(have.Remotes, r) {
			missing = append(missing, "copies to "+r)
		}
	}
	if len(want.Remotes) > 0 && want.S3 != have.S3 {
		missing = append(missing, fmt.Sprintf("the S3 endpoint %q, region %q", want.S3.Endpoint, want.S3.Region))
	}
	return missing
}

// agentStatus asks the running agent, if any, who it is; it never starts one.
func (e *env) agentStatus() (pid int, settings *agentSettings, err error) {
	pid, settings, _, err = e.agentState()
	return pid, settings, err
}

// agentState is agentStatus with the agent's idle work still to do: the
// captures whose search lines it has yet to derive.
func (e *env) agentState() (pid int, settings *agentSettings, linesPending int, err error) {
	client := agent.NewClient(e.cfg.socket, nil, "")
	defer client.Close()
	client.Notice = func(n string) { fmt.Fprintf(e.stderr, "calm: %s\n", printable(n)) } // a stopped agent
	st, err := client.Status()
	if err != nil {
		return 0, nil, 0, err
	}
	if n, ok := st["lines_pending"].(float64); ok {
		linesPending = int(n)
	}
	if p, ok := st["pid"].(float64); ok {
		pid = int(p)
	}
	if raw, ok := st["settings"]; ok && raw != nil {
		// An agent from before settings were said has none: nothing to compare.
		b, _ := json.Marshal(raw)
		settings = &agentSettings{}
		if json.Unmarshal(b, settings) != nil {
			settings = nil
		}
	}
	return pid, settings, linesPending, nil
}

// agentLacks says in one line what this command's settings ask of the
// running agent that it does not do, or "". It asks only when there are
// mirrors to ask about.
func (e *env) agentLacks() string {
	want := e.cfg.agentSettings()
	if len(want.Mirrors) == 0 && len(want.Remotes) == 0 {
		return ""
	}
	if _, err := e.cfg.openRemotes(); err != nil {
		return "" // no agent copies there, nor will: remoteConfigWarning says why
	}
	// No agent yet: the one this command starts has these settings.
	pid, have, err := e.agentStatus()
	if err != nil || have == nil {
		return ""
	}
	missing := want.lacks(*have)
	if len(missing) == 0 {
		return ""
	}
	restart := "calm"
	for _, m := range e.cfg.flagMirrors {
		restart += " --mirror " + shellQuote(m) // a plain restart would start it without them
	}
	return fmt.Sprintf("the running agent (pid %d) lacks what these settings ask (%s): it started before they were configured or given with --mirror; this restarts it with them: %s agent restart",
		pid, strings.Join(missing, "; "), restart)
}

// otherCredentials says, when a bucket is configured, that the running
// agent uploads with AWS credentials other than this shell's environment
// holds, or "". It is not a setting the agent lacks (shells differ, and a
// command is not refused for it), but a fixed secret it does not have.
func (want agentSettings) otherCredentials(have agentSettings, pid int) string {
	if len(want.Remotes) == 0 || want.Credentials == have.Credentials {
		return ""
	}
	if want.Credentials == "" {
		return fmt.Sprintf("the running agent (pid %d) uploads with AWS credentials from the environment it started in, and this shell has none set: if those are wrong, 'calm agent restart' from here makes it use the profile file's", pid)
	}
	return fmt.Sprintf("the running agent (pid %d) uploads with AWS credentials other than this shell's (AWS_ACCESS_KEY_ID and the rest, compared by a hash): 'calm agent restart' from here gives it these", pid)
}

func cmdAgentStatus(e *env, args []string) error {
	fs := e.flags("status", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	pid, have, linesPending, err := e.agentState()
	if err != nil {
		fmt.Fprintf(e.stdout, "no agent runs for %s (socket %s); any command starts one\n", e.cfg.Store, e.cfg.socket)
		return &exitError{code: 1}
	}
	fmt.Fprintf(e.stdout, "agent pid %d serving %s on %s\n", pid, e.cfg.Store, e.cfg.socket)
	if linesPending > 0 {
		fmt.Fprintf(e.stdout, "idle work: %s still to prepare for search (searches read their output meanwhile)\n", plural(linesPending, "capture"))
	}
	if have != nil {
		fmt.Fprintf(e.stdout, "mirrors: %s\n", orNone(append(append([]string{}, have.Mirrors...), have.Remotes...)))
		if _, err := e.cfg.openRemotes(); err != nil {
			fmt.Fprintf(e.stdout, "but: %s\n", printable(oneLine(err.Error())))
		}
		if missing := e.cfg.agentSettings().lacks(*have); len(missing) > 0 {
			fmt.Fprintf(e.stdout, "it lacks what these settings ask: %s ('calm agent restart' applies them)\n", strings.Join(missing, "; "))
		}
		if other := e.cfg.agentSettings().otherCredentials(*have, pid); other != "" {
			fmt.Fprintln(e.stdout, other)
		}
	}
	return nil
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

// stopAgent asks the agent to stop (SIGTERM: it finishes what it holds)
// and waits until it has.
func (e *env) stopAgent() (int, error) {
	pid := agent.NewClient(e.cfg.socket, nil, "").StoppedAgent() // it would not answer a status
	if pid == 0 {
		var err error
		if pid, _, err = e.agentStatus(); err != nil {
			return 0, nil // none runs
		}
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return pid, fmt.Errorf("stop the agent (pid %d): %w", pid, err)
	}
	syscall.Kill(pid, syscall.SIGCONT) // a stopped agent takes its SIGTERM only once it goes on
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ended(pid) {
			return pid, nil
		}
	}
	return pid, fmt.Errorf("the agent (pid %d) did not stop within a minute: its log is %s", pid, e.cfg.agentLog())
}

// ended reports whether a process has exited: gone, or a zombie its
// parent has not reaped yet (a container's PID 1 may never reap it).
func ended(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command's closing parenthesis.
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}

func cmdAgentStop(e *env, args []string) error {
	fs := e.flags("stop", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	pid, err := e.stopAgent()
	switch {
	case err != nil:
		return err
	case pid == 0:
		fmt.Fprintf(e.stdout, "no agent runs for %s\n", e.cfg.Store)
	default:
		fmt.Fprintf(e.stdout, "stopped the agent (pid %d); the next command starts one\n", pid)
	}
	return nil
}

func cmdAgentRestart(e *env, args []string) error {
	fs := e.flags("restart", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if _, err := e.stopAgent(); err != nil {
		return err
	}
	client := agent.NewClient(e.cfg.socket, e.cfg.agentCommand(), e.cfg.agentLog())
	defer client.Close()
	if err := client.StartAgent(); err != nil {
		return err
	}
	pid, have, err := e.agentStatus()
	if err != nil {
		return err
	}
	mirrors := "none"
	if have != nil {
		mirrors = orNone(append(append([]string{}, have.Mirrors...), have.Remotes...))
	}
	fmt.Fprintf(e.stdout, "agent pid %d serving %s; mirrors: %s\n", pid, e.cfg.Store, mirrors)
	if len(e.cfg.flagMirrors) > 0 {
		// It leaves after its idle minutes, and the next one starts
		// without them.
		fmt.Fprintf(e.stdout, "note: %s from --mirror last as long as this agent: to keep them, add them to the config file's mirrors\n", strings.Join(e.cfg.flagMirrors, ", "))
	}
	return nil
}

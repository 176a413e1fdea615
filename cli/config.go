// Package cli is calm's command line: it parses flags, resolves the
// configuration, runs each command against the Store (the agent's own
// command, and calm tee's pass-through, included) and prints what a tired
// person needs.
package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"calm/model"
	"calm/storage"
	"calm/storage/agent"
	"calm/storage/s3"
)

// S3Config says where S3-compatible mirrors live; credentials come from the
// standard AWS environment and profile files.
type S3Config struct {
	Endpoint string `toml:"endpoint"` // e.g. "https://s3.eu-west-1.amazonaws.com" or "http://127.0.0.1:7070"
	Region   string `toml:"region"`
}

// Config is calm's configuration. Every key is optional.
type Config struct {
	Store          string   `toml:"store"`
	Mirrors        []string `toml:"mirrors"`
	CopiesRequired int      `toml:"copies_required"`
	// DevicesRequired is how many distinct devices (disks, buckets) must
	// hold a verified copy; fewer is shown as a warning.
	DevicesRequired int      `toml:"devices_required"`
	Redact          []string `toml:"redact"`
	Checklists      []string `toml:"checklists"`
	Marks           []string `toml:"marks"`   // more destructive-command patterns (RE2)
	Webhook         string   `toml:"webhook"` // a Slack-compatible incoming webhook for the team message
	S3              S3Config `toml:"s3"`      // how to reach s3:// mirrors

	// IdleTimeLimit is the longest pause a replay keeps, in seconds, as
	// asciinema's idle_time_limit; 0 or unset is 2.
	IdleTimeLimit float64 `toml:"idle_time_limit"`

	remotes []string // the s3:// mirrors, apart from the folders

	socket      string
	flagMirrors []string
	file        string // where the config came from, if anywhere
	defaults    bool   // no config file was read, on purpose
	// storeNamedBy is what chose a store other than the default ("--store",
	// the config file's key), or "": a typo there must not start a new store.
	storeNamedBy   string
	storeOtherwise string // the store without that
	storeNote      string // how --store was read, when not as written
}

// absolute is path with ~ expanded, made absolute where it can be.
func absolute(path string) string {
	path = expand(path)
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

func home() string {
	h, err := os.UserHomeDir()
	if err != nil {
		return os.TempDir()
	}
	return h
}

func expand(p string) string {
	if p == "~" {
		return home()
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(home(), p[2:])
	}
	return p
}

func xdg(env, fallback string) string {
	if d := os.Getenv(env); d != "" && filepath.IsAbs(d) {
		return d
	}
	return filepath.Join(home(), fallback)
}

func configPath(flagPath string) string {
	if flagPath != "" {
		return flagPath
	}
	if p := os.Getenv("CALM_CONFIG"); p != "" {
		return p
	}
	return filepath.Join(xdg("XDG_CONFIG_HOME", ".config"), "calm", "config.toml")
}

// loadConfig reads the config file, then lets env and flags override it:
// flags beat CALM_HOME, which beats the file, which beats the defaults.
func loadConfig(g globalFlags) (Config, error) {
	if g.defaults {
		return defaultConfig(g), nil
	}
	var c Config
	path := configPath(g.config)
	// Checked before it is read: a FIFO put in its place would hang every
	// command, tee's pipe too; and its folder, where another user could
	// swap it or take it away.
	if why := model.WritableByOthers(filepath.Dir(path)); why != "" {
		return c, fmt.Errorf("config folder %s is refused, and no command but tee runs until it is fixed: %s", filepath.Dir(path), why)
	}
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return c, fmt.Errorf("config %s is not a plain file: move it away", path)
	}
	if why := model.WritableByOthers(path); why != "" {
		return c, fmt.Errorf("config %s is refused, and no command but tee runs until it is fixed: %s", path, why)
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		md, err := toml.Decode(string(data), &c)
		if err != nil {
			return c, fmt.Errorf("config %s: %v: fix it or move it away", path, err)
		}
		if undec := md.Undecoded(); len(undec) > 0 {
			return c, fmt.Errorf("config %s: unknown key %q: check its spelling", path, undec[0].String())
		}
		c.file = path
	case !os.IsNotExist(err) || g.config != "":
		return c, fmt.Errorf("read config %s: %w", path, err)
	}
	return c.settle(g), nil
}

// dataDirStore is the store in the XDG data folder: calm's when nothing
// names another.
func dataDirStore() string {
	return filepath.Join(xdg("XDG_DATA_HOME", ".local/share"), "calm", "calm.db")
}

// defaultConfig is the configuration with no config file read: what tee
// saves with when the file cannot be used, rather than not saving.
func defaultConfig(g globalFlags) Config {
	c := Config{defaults: true}
	return c.settle(g)
}

// settle completes a configuration read from its file (or none) with the
// environment and the global flags.
func (c Config) settle(g globalFlags) Config {
	fallback := dataDirStore()
	if h := os.Getenv("CALM_HOME"); h != "" {
		fallback = filepath.Join(h, "calm.db")
	}
	if c.Store != "" {
		c.storeNamedBy = "the store key of " + c.file
	}
	if h := os.Getenv("CALM_HOME"); h != "" {
		c.Store, c.storeNamedBy = filepath.Join(h, "calm.db"), ""
	}
	if g.store != "" {
		if c.Store != "" {
			fallback = c.Store
		}
		c.Store, c.storeNamedBy = g.store, "--store"
		if st, err := os.Stat(expand(g.store)); err == nil && st.IsDir() {
			// The folder the README names, where the file was meant.
			c.Store = filepath.Join(g.store, "calm.db")
			c.storeNote = fmt.Sprintf("--store %s is a folder: using the store file in it, %s", g.store, c.Store)
		}
	}
	if c.Store == "" {
		c.Store = fallback
	}
	c.Store, c.storeOtherwise = absolute(c.Store), absolute(fallback)
	c.Mirrors = append(c.Mirrors, g.mirrors...)
	c.flagMirrors = g.mirrors
	var folders []string
	for _, m := range c.Mirrors {
		if strings.HasPrefix(m, "s3://") {
			c.remotes = append(c.remotes, m)
			continue
		}
		m = expand(m)
		if abs, err := filepath.Abs(m); err == nil {
			m = abs
		}
		folders = append(folders, m)
	}
	c.Mirrors = folders
	if v := os.Getenv("CALM_S3_ENDPOINT"); v != "" {
		c.S3.Endpoint = v
	}
	if c.CopiesRequired == 0 {
		c.CopiesRequired = 2 + len(c.Mirrors) + len(c.remotes)
	}
	if c.DevicesRequired == 0 {
		c.DevicesRequired = 1
	}
	// One agent per store: the socket's name comes from the store's path.
	return c.withStore(c.Store)
}

// withStore is c for another store file: its own agent and socket.
func (c Config) withStore(path string) Config {
	c.Store, c.socket = path, ""
	if env := os.Getenv("CALM_SOCKET"); env != "" {
		c.socket = env
		return c
	}
	sum := sha256.Sum256([]byte(c.Store))
	c.socket = filepath.Join(agent.SocketDir(), "agent-"+hex.EncodeToString(sum[:6])+".sock")
	if running := agent.RunningSocket(c.Store); running != "" {
		c.socket = running // the agent already serving this store, from another runtime folder
	}
	return c
}

// agentCommand is how a client starts the agent for this configuration.
func (c Config) agentCommand() []string {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	args := []string{exe, "--store", c.Store}
	if c.file != "" {
		args = append(args, "--config", c.file)
	}
	if c.defaults {
		// The file this command could not use would stop the agent too.
		args = append(args, "--default-settings")
	}
	for _, m := range c.flagMirrors {
		args = append(args, "--mirror", m)
	}
	return append(args, "agent", "--socket", c.socket)
}

func (c Config) agentLog() string {
	return filepath.Join(filepath.Dir(c.Store), "agent.log")
}

// checklistDirs are where a team's checklists live: the default folder and
// any configured ones.
func (c Config) checklistDirs() []string {
	dirs := []string{filepath.Join(xdg("XDG_CONFIG_HOME", ".config"), "calm", "checklists")}
	for _, d := range c.Checklists {
		dirs = append(dirs, expand(d))
	}
	return dirs
}

// openRemotes connects to the s3:// mirrors: those it can, and why not the
// others.
func (c Config) openRemotes() ([]storage.Remote, error) {
	var out []storage.Remote
	var errs []error
	for _, u := range c.remotes {
		r, err := s3.New(u, s3.Options{Endpoint: c.S3.Endpoint, Region: c.S3.Region})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	if err := errors.Join(errs...); err != nil {
		return out, fmt.Errorf("%w: fix it in the config file, then run 'calm agent restart'; until then no copy goes there, and every other copy is made", err)
	}
	return out, nil
}

package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// SocketDir is the private folder for agent sockets.
func SocketDir() string { return socketDir() }

// EnsurePrivateDir creates dir 0700 and refuses one that another user owns or
// others can enter, since the socket in it carries production output.
func EnsurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create socket folder: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() {
		return fmt.Errorf("socket folder %s is not a folder of yours: remove it or set XDG_RUNTIME_DIR", dir)
	}
	if fi.Mode().Perm() != 0o700 {
		if !calmsRunDir(dir) {
			// A folder the person named (--socket ~/a.sock): theirs to
			// open or close, not calm's to take from everyone else. The
			// socket itself is 0600, and each side checks who the other is.
			return nil
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("make socket folder %s private: %w", dir, err)
		}
	}
	return nil
}

// calmsRunDir reports whether dir is one of the folders calm picks for its
// sockets (socketDir), which it may make private again.
func calmsRunDir(dir string) bool {
	base := filepath.Base(dir)
	return base == "calm" || base == "calm-"+strconv.Itoa(os.Getuid()) || base == "run" && filepath.Base(filepath.Dir(dir)) == "calm"
}

// socketDir picks the private folder for agent sockets: $XDG_RUNTIME_DIR/calm;
// without one, calm-<uid> under the temp folder, unless another user made
// that first (anyone can, in a shared /tmp): then a folder in the home,
// which no one else can make. Once the home folder exists it is kept, so
// every client and the agent agree on one place whatever /tmp holds later.
func socketDir() string {
	home, err := os.UserHomeDir()
	fallback := filepath.Join(home, ".cache", "calm", "run")
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		run := filepath.Join(d, "calm")
		// One another user made first (a shared runtime folder): the one
		// in the home, as for the temp folder below.
		if _, err := os.Lstat(run); err == nil && !ownFolder(run) && filepath.IsAbs(home) {
			return fallback
		}
		return run
	}
	tmp := filepath.Join(os.TempDir(), "calm-"+strconv.Itoa(os.Getuid()))
	if err != nil || !filepath.IsAbs(home) {
		return tmp
	}
	if ownFolder(fallback) {
		return fallback
	}
	if _, err := os.Lstat(tmp); os.IsNotExist(err) || ownFolder(tmp) {
		return tmp
	}
	return fallback
}

// ownFolder reports whether dir is a folder (not a link to one) of this user.
func ownFolder(dir string) bool {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() {
		return false
	}
	uid, ok := ownerOf(fi)
	return ok && uid == os.Getuid()
}

// ownerOf is the uid that owns a file.
func ownerOf(fi os.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, false
	}
	return int(st.Uid), true
}

// SocketFile is where a running agent names its socket, beside the
// store: a client whose runtime folder differs (sudo -i, su, a container's
// shell) finds the agent there instead of starting a second one, which the
// store's lock would refuse. It is named after the store, not its folder:
// two stores in one folder each have their own agent.
func SocketFile(store string) string { return store + ".socket" }

// RunningSocket is the socket SocketFile names, if it is this
// user's socket and the file is this user's; "" otherwise.
func RunningSocket(store string) string {
	name := SocketFile(store)
	fi, err := os.Lstat(name)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0 {
		return ""
	}
	if uid, ok := ownerOf(fi); !ok || uid != os.Getuid() {
		return ""
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return ""
	}
	socket := strings.TrimSpace(string(data))
	st, err := os.Lstat(socket)
	if err != nil || st.Mode()&os.ModeSocket == 0 || !filepath.IsAbs(socket) {
		return ""
	}
	if uid, ok := ownerOf(st); !ok || uid != os.Getuid() {
		return ""
	}
	return socket
}

// NameSocket records socket in SocketFile (0600, written whole);
// the returned func removes it if it still names socket.
func NameSocket(store, socket string) (func(), error) {
	name := SocketFile(store)
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, []byte(socket+"\n"), 0o600); err != nil {
		return func() {}, err
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return func() {}, err
	}
	return func() {
		if data, err := os.ReadFile(name); err == nil && strings.TrimSpace(string(data)) == socket {
			os.Remove(name)
		}
	}, nil
}

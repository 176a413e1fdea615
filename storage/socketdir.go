package storage

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// socketDir picks the private folder for agent sockets: $XDG_RUNTIME_DIR/calm;
// without one, calm-<uid> under the temp folder, unless another user made
// that first (anyone can, in a shared /tmp): then a folder in the home,
// which no one else can make. Once the home folder exists it is kept, so
// every client and the agent agree on one place whatever /tmp holds later.
func socketDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "calm")
	}
	tmp := filepath.Join(os.TempDir(), "calm-"+strconv.Itoa(os.Getuid()))
	home, err := os.UserHomeDir()
	if err != nil || !filepath.IsAbs(home) {
		return tmp
	}
	fallback := filepath.Join(home, ".cache", "calm", "run")
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

package storage

import "syscall"

// noFollow makes an open fail on a symlink planted where a copy should be.
const noFollow = syscall.O_NOFOLLOW

package capture

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ring is the smallest io_uring that does the journal's direct writes
// without holding the recorder's one P. A direct pwrite(2) waits for the
// disk inside a system call: Go's scheduler leaves the P with the writer's
// thread until sysmon takes it back, possibly milliseconds later, and the
// read loop, back from poll(2) with output waiting, waits that long for it.
// Here the kernel does the write on its own (inline when it can, in an
// io-wq worker when it would block), and the writer waits for the
// completion's eventfd in Go's netpoller, which parks the goroutine and
// frees the P at once. It stays because an A/B against pwrite(2) showed the
// gain (BENCHMARKS.md, "io_uring and the SWAR encoder").
type ring struct {
	fd   int
	done *os.File // eventfd the kernel signals on each completion; pollable
	mem  [][]byte // the mapped rings, unmapped by close

	sqTail  *uint32
	sqMask  uint32
	sqArray unsafe.Pointer // uint32 per entry
	sqes    unsafe.Pointer // sqe per entry
	cqHead  *uint32
	cqTail  *uint32
	cqMask  uint32
	cqes    unsafe.Pointer // cqe per entry
}

// The kernel's structures (linux/io_uring.h), as far as a write needs them.
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  uringSQOffsets
	cqOff                                                                  uringCQOffsets
}

type uringSQOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	resv2                                                           uint64
}

type uringCQOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	resv2                                                           uint64
}

type uringSQE struct {
	opcode   uint8
	flags    uint8
	ioprio   uint16
	fd       int32
	off      uint64
	addr     uint64
	len      uint32
	rwFlags  uint32
	userData uint64
	_        [24]byte
}

type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

const (
	uringOpWrite         = 23 // IORING_OP_WRITE, Linux 5.6
	uringFeatSingleMmap  = 1 << 0
	uringRegisterEventfd = 4
	uringOffSQRing       = 0
	uringOffCQRing       = 0x8000000
	uringOffSQEs         = 0x10000000
)

// newRing sets up a ring of a few entries, or says why it cannot: no
// io_uring in this kernel, or one turned off (sysctl kernel.io_uring_disabled,
// a container's seccomp profile). The journal then writes with pwrite(2).
func newRing() (*ring, error) {
	var p uringParams
	fd, _, errno := syscall.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", errno)
	}
	r := &ring{fd: int(fd)}
	unix.CloseOnExec(r.fd)
	fail := func(what string, err error) (*ring, error) {
		r.close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if p.features&uringFeatSingleMmap == 0 {
		return fail("io_uring", fmt.Errorf("kernel older than 5.4"))
	}
	size := max(int(p.sqOff.array)+4*int(p.sqEntries), int(p.cqOff.cqes)+int(p.cqEntries)*int(unsafe.Sizeof(uringCQE{})))
	rings, err := unix.Mmap(r.fd, uringOffSQRing, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fail("map io_uring", err)
	}
	r.mem = append(r.mem, rings)
	sqes, err := unix.Mmap(r.fd, uringOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(uringSQE{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fail("map io_uring", err)
	}
	r.mem = append(r.mem, sqes)
	at := func(off uint32) unsafe.Pointer { return unsafe.Pointer(&rings[off]) }
	r.sqTail, r.sqMask, r.sqArray = (*uint32)(at(p.sqOff.tail)), *(*uint32)(at(p.sqOff.ringMask)), at(p.sqOff.array)
	r.sqes = unsafe.Pointer(&sqes[0])
	r.cqHead, r.cqTail, r.cqMask = (*uint32)(at(p.cqOff.head)), (*uint32)(at(p.cqOff.tail)), *(*uint32)(at(p.cqOff.ringMask))
	r.cqes = at(p.cqOff.cqes)

	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return fail("eventfd", err)
	}
	r.done = os.NewFile(uintptr(efd), "io_uring completions") // non-blocking: in the netpoller
	efd32 := int32(efd)
	if _, _, errno := syscall.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), uringRegisterEventfd, uintptr(unsafe.Pointer(&efd32)), 1, 0, 0); errno != 0 {
		return fail("io_uring eventfd", errno)
	}
	return r, nil
}

// errNotSubmitted: the ring failed before the kernel took the write, which
// may then be made another way.
var errNotSubmitted = errors.New("the write was not submitted")

// pwrite writes p at off in the file fd, as pwrite(2) does, one request at
// a time.
func (r *ring) pwrite(fd int, p []byte, off int64) (int, error) {
	tail := *r.sqTail // only this goroutine moves it
	i := tail & r.sqMask
	sqe := (*uringSQE)(unsafe.Add(r.sqes, uintptr(i)*unsafe.Sizeof(uringSQE{})))
	*sqe = uringSQE{opcode: uringOpWrite, fd: int32(fd), off: uint64(off), addr: uint64(uintptr(unsafe.Pointer(&p[0]))), len: uint32(len(p))}
	*(*uint32)(unsafe.Add(r.sqArray, uintptr(i)*4)) = i
	atomic.StoreUint32(r.sqTail, tail+1) // the entry is written before the kernel sees it
	for {
		n, _, errno := syscall.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 1, 0, 0, 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 || n != 1 {
			// The kernel did not take the request: it never saw p, and the
			// ring, with the entry still in it, is not to be used again.
			return 0, fmt.Errorf("io_uring_enter: %w (%d of 1 submitted): %w", errno, n, errNotSubmitted)
		}
		break
	}
	var count [8]byte
	for {
		if res, ok := r.reap(); ok {
			runtime.KeepAlive(p) // the kernel read p until now
			if res < 0 {
				return 0, syscall.Errno(-res)
			}
			return int(res), nil
		}
		// Parks this goroutine in the netpoller until the kernel posts the
		// completion; the P goes on with the read loop meanwhile.
		if _, err := r.done.Read(count[:]); err != nil {
			return 0, fmt.Errorf("wait for the journal write: %w", err)
		}
	}
}

// reap takes the oldest completion, if there is one.
func (r *ring) reap() (int32, bool) {
	head := *r.cqHead
	if head == atomic.LoadUint32(r.cqTail) {
		return 0, false
	}
	cqe := (*uringCQE)(unsafe.Add(r.cqes, uintptr(head&r.cqMask)*unsafe.Sizeof(uringCQE{})))
	res := cqe.res
	atomic.StoreUint32(r.cqHead, head+1)
	return res, true
}

func (r *ring) close() {
	if r.done != nil {
		r.done.Close()
	}
	for _, m := range r.mem {
		_ = unix.Munmap(m)
	}
	unix.Close(r.fd)
}

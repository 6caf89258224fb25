package helper

import (
	"syscall"
	"unsafe"
)

// The system calls and constants the helper uses beyond the syscall
// package's. They are defined here rather than taken from
// golang.org/x/sys/unix, which imports strings: Go initializes strings
// (and every package that imports it) only after the binary's packages
// whose paths sort before it and that are ready, which would hold the
// helper's start behind most of the program's initialization (see
// init).

// prctl(2) options and arguments (linux/prctl.h, the same on every
// architecture).
const (
	prSetPdeathsig          = 1
	prSetKeepcaps           = 8
	prCapbsetDrop           = 24
	prCapAmbient            = 47
	prCapAmbientRaise       = 2
	prCapAmbientClearAll    = 4
	linuxCapabilityVersion3 = 0x20080522
)

func prctl(option int, arg2, arg3, arg4, arg5 uintptr) error {
	if _, _, e := syscall.Syscall6(syscall.SYS_PRCTL, uintptr(option), arg2, arg3, arg4, arg5, 0); e != 0 {
		return e
	}
	return nil
}

// capUserHeader and capUserData are capset(2)'s arguments
// (linux/capability.h).
type capUserHeader struct {
	version uint32
	pid     int32
}

type capUserData struct {
	effective, permitted, inheritable uint32
}

// capset sets this thread's capabilities; data holds two entries
// (version 3: 64 capabilities).
func capset(hdr *capUserHeader, data *[2]capUserData) error {
	if _, _, e := syscall.RawSyscall(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(hdr)), uintptr(unsafe.Pointer(data)), 0); e != 0 {
		return e
	}
	return nil
}

// setCloexec sets FD_CLOEXEC on fd.
func setCloexec(fd int) error {
	if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_SETFD, syscall.FD_CLOEXEC); e != 0 {
		return e
	}
	return nil
}

//go:build linux && !(mips || mipsle || mips64 || mips64le)

package helper

// RLIMIT_ numbers the syscall package lacks (asm-generic/resource.h).
const (
	rlimitRSS     = 5
	rlimitNPROC   = 6
	rlimitMEMLOCK = 8
)

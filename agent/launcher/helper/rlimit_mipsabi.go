//go:build linux && (mips || mipsle || mips64 || mips64le)

package helper

// RLIMIT_ numbers the syscall package lacks (MIPS' asm/resource.h).
const (
	rlimitRSS     = 7
	rlimitNPROC   = 8
	rlimitMEMLOCK = 9
)

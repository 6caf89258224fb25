package helper

// RLIMIT_ numbers the syscall package lacks, the same on every
// architecture (asm-generic/resource.h).
const (
	rlimitLOCKS      = 10
	rlimitSIGPENDING = 11
	rlimitMSGQUEUE   = 12
	rlimitNICE       = 13
	rlimitRTPRIO     = 14
	rlimitRTTIME     = 15
)

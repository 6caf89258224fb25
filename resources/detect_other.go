//go:build !linux

package resources

import (
	"errors"
	"runtime"
)

// DetectHost inspects the machine. Outside Linux it knows only the CPUs
// this process may run on; memory and disk are left zero (see HostInfo)
// and reported in the error.
func DetectHost(workDir string) (HostInfo, error) {
	return HostInfo{CPUs: runtime.NumCPU()}, errors.New("detect mem and disk: only supported on Linux")
}

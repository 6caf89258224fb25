package libprocess

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// UPID is a libprocess process id: "id@host:port".
type UPID struct {
	// ID is the process' id ("master", "slave(1)", "scheduler-<uuid>").
	ID string
	// Host is an IP address (libprocess senders name themselves by IP).
	Host string
	// Port is the TCP port the process' libprocess listens on.
	Port int
}

// ParseUPID parses "id@host:port".
func ParseUPID(s string) (UPID, error) {
	id, addr, ok := strings.Cut(s, "@")
	if !ok || id == "" {
		return UPID{}, fmt.Errorf("libprocess pid %q: want id@host:port", s)
	}
	if strings.ContainsAny(id, "/ \t\r\n") {
		return UPID{}, fmt.Errorf("libprocess pid %q: the id may not hold '/' or spaces", s)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return UPID{}, fmt.Errorf("libprocess pid %q: %w", s, err)
	}
	if host == "" {
		return UPID{}, fmt.Errorf("libprocess pid %q: no host", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return UPID{}, fmt.Errorf("libprocess pid %q: bad port %q", s, port)
	}
	return UPID{ID: id, Host: host, Port: p}, nil
}

// String formats the pid as libprocess does.
func (u UPID) String() string {
	if u.ID == "" {
		return ""
	}
	return u.ID + "@" + u.Addr()
}

// Addr is the pid's "host:port".
func (u UPID) Addr() string { return net.JoinHostPort(u.Host, strconv.Itoa(u.Port)) }

// IsZero reports whether u is the empty pid.
func (u UPID) IsZero() bool { return u == UPID{} }

// ErrNoSender is returned for a request that names no libprocess sender.
var ErrNoSender = errors.New("no Libprocess-From header and no User-Agent: libprocess/<pid>")

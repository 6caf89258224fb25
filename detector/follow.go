package detector

import (
	"context"
	"net"
	"strconv"
	"sync"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// Source is what a Follower follows: a Detector, or anything that
// reports the leading master the same way.
type Source interface {
	// Leader is the leading master, nil while none is known.
	Leader() *mesos.MasterInfo
	// Changes delivers changes of leader (nil: none).
	Changes() <-chan *mesos.MasterInfo
}

// Follower keeps the address of the leading master a Source reports, for
// a client of the masters (an agent, a scheduler): a connection made to
// the leader is attached to it, and ended as soon as another master
// leads, so that the client reconnects to the new one at once, as Mesos'
// agent and scheduler library do.
type Follower struct {
	mu      sync.Mutex
	addr    string
	current context.CancelFunc
	changed chan struct{} // closed at the next change, then replaced
}

// Follow starts following src until ctx ends.
func Follow(ctx context.Context, src Source) *Follower {
	f := &Follower{changed: make(chan struct{})}
	f.set(src.Leader())
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case info := <-src.Changes():
				f.set(info)
			}
		}
	}()
	return f
}

// Address is the leader's address to connect to ("" while none leads).
func (f *Follower) Address() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addr
}

// Changed returns a channel closed when the leader next changes: a
// client waiting before it reconnects (a backoff) may go at once.
func (f *Follower) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// Attach returns the leader's address ("" while none leads) and has
// cancel called when the leader changes: the connection being made to
// it is over then.
func (f *Follower) Attach(cancel context.CancelFunc) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.current = cancel
	return f.addr
}

func (f *Follower) set(info *mesos.MasterInfo) {
	addr := ConnectAddress(info)
	f.mu.Lock()
	defer f.mu.Unlock()
	if addr == f.addr {
		return
	}
	f.addr = addr
	close(f.changed)
	f.changed = make(chan struct{})
	if f.current != nil {
		f.current()
		f.current = nil
	}
}

// ConnectAddress is the "ip:port" at which a client reaches the master
// info describes ("" for nil): the IP of its address (its hostname when
// it has no IP), as Mesos' agents and schedulers reach the leader's pid.
// (LeaderAddress prefers the hostname, for people and redirects.)
func ConnectAddress(info *mesos.MasterInfo) string {
	if info == nil {
		return ""
	}
	host := info.GetAddress().GetIp()
	if host == "" && info.Ip != nil {
		host = UnpackIP(info.GetIp()).String()
	}
	if host == "" {
		return LeaderAddress(info)
	}
	port := info.GetAddress().GetPort()
	if port == 0 {
		port = int32(info.GetPort())
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

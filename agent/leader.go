package agent

import (
	"context"
	"errors"
	"time"

	"github.com/mezzo-project/mezzo/detector"
)

// Several masters (--master=zk://… or file://…). The agent follows the
// leader a detector finds in ZooKeeper, as Mesos' agent does: it
// registers with the leader, and when another master takes over it
// drops its connection at once and registers with the new one (a
// re-registration, keeping its id and tasks).

// masterSessionTimeout is the ZooKeeper session timeout of the agent's
// detector (Mesos' agent --zk_session_timeout default).
const masterSessionTimeout = 10 * time.Second

// followLeader starts detecting the leading master of --master and
// following it until ctx ends.
func (a *Agent) followLeader(ctx context.Context) (*detector.Follower, func(), error) {
	u, err := detector.ParseURL(a.cfg.Master)
	if err != nil {
		return nil, nil, err
	}
	det, err := detector.Detect(ctx, u, masterSessionTimeout, detector.WithLogger(a.log.With("component", "detector")))
	if err != nil {
		return nil, nil, err
	}
	return detector.Follow(ctx, det), func() { det.Close() }, nil
}

// masterAddress is the address to register with and send calls to: the
// detected leader's, or --master itself.
func (a *Agent) masterAddress() string {
	if f := a.leader.Load(); f != nil {
		return f.Address()
	}
	return a.cfg.Master
}

// errNoLeader is a registration attempt made while no master leads.
var errNoLeader = errors.New("no leading master detected yet")

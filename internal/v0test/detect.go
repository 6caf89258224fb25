package v0test

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/detector"
	"github.com/mezzo-project/mezzo/internal/libprocess"
)

// registrationRetry is how often the driver repeats an unanswered
// registration (libmesos backs off from about a second, too).
const registrationRetry = 500 * time.Millisecond

// FollowLeader makes the driver find its master as libmesos' ZooKeeper
// detector does: the lowest-sequence json.info_ znode under the path of
// zkURL (zk://host:port,.../path) names the leader's MasterInfo, whose
// pid the driver sends to. Each time the leader changes the driver
// registers with it (SUBSCRIBE with info, and with the framework id once
// it has one; force=false), repeating until that master answers. It runs
// until ctx ends.
func (s *Scheduler) FollowLeader(ctx context.Context, zkURL string, info *mesos.FrameworkInfo) error {
	u, err := detector.ParseURL(zkURL)
	if err != nil {
		return fmt.Errorf("scheduler driver: %w", err)
	}
	d, err := detector.Detect(ctx, u, 10*time.Second)
	if err != nil {
		return fmt.Errorf("scheduler driver: %w", err)
	}
	go func() {
		defer d.Close()
		retry := time.NewTicker(registrationRetry)
		defer retry.Stop()
		var leader libprocess.UPID
		for {
			select {
			case <-ctx.Done():
				return
			case mi := <-d.Changes():
				pid, err := libprocess.ParseUPID(mi.GetPid())
				if mi == nil || err != nil {
					leader = libprocess.UPID{}
					continue
				}
				leader = pid
				s.mu.Lock()
				s.Master = pid
				s.mu.Unlock()
			case <-retry.C:
			}
			s.mu.Lock()
			registered := s.registeredWith == leader
			fid := s.frameworkID
			s.mu.Unlock()
			if leader.IsZero() || registered {
				continue
			}
			in := proto.Clone(info).(*mesos.FrameworkInfo)
			if fid != "" {
				in.Id = &mesos.FrameworkID{Value: proto.String(fid)}
			}
			_ = s.Subscribe(in)
		}
	}()
	return nil
}

package detector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// Detector follows the leading master (Mesos' ZooKeeperMasterDetector, or
// its standalone detector for a fixed master). Its methods are safe for
// concurrent use.
type Detector struct {
	conn    *zk.Conn // nil for a fixed master
	dir     string
	timeout time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	leader  *mesos.MasterInfo
	node    string // the leader's znode name, "" for none
	changes chan *mesos.MasterInfo
	// reported is set once the first value went to changes.
	reported bool

	// refresh asks watchLeader to read the election again: the session is
	// back after the leader was forgotten.
	refresh   chan struct{}
	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// Detect starts following the leading master named by url. For a
// ZooKeeper URL it opens a session with sessionTimeout and watches the
// lowest election znode under url's path, reconnecting across server
// failures; it returns at once, before the first leader is known. For a
// fixed master it reports that master. ctx bounds only the start; Close
// stops the Detector.
func Detect(ctx context.Context, url *URL, sessionTimeout time.Duration, opts ...Option) (*Detector, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("detecting the leading master: %w", err)
	}
	o := buildOptions(opts)
	d := &Detector{
		dir:     url.Path,
		timeout: sessionTimeout,
		log:     o.log.With("zk", url.String()),
		changes: make(chan *mesos.MasterInfo, 1),
		refresh: make(chan struct{}, 1),
		stop:    make(chan struct{}),
	}
	if !url.IsZooKeeper() {
		d.set(fixedMasterInfo(url.Master), url.Master)
		return d, nil
	}
	conn, events, err := dial(url, sessionTimeout, o.log, &lastHeard{})
	if err != nil {
		return nil, fmt.Errorf("detecting the leading master: %w", err)
	}
	d.conn = conn
	d.wg.Add(2)
	go d.watchSession(events)
	go d.watchLeader()
	return d, nil
}

// Leader returns the leading master, or nil while there is none or it is
// unknown. The caller must not modify it.
func (d *Detector) Leader() *mesos.MasterInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.leader
}

// Changes delivers the leader each time it changes, nil when there is
// none; the first value is the first leader seen (or nil). A reader that
// falls behind skips to the latest value: the last one received is always
// the current leader. The channel is never closed; stop reading after Close.
func (d *Detector) Changes() <-chan *mesos.MasterInfo { return d.changes }

// Close stops following the leader and closes the ZooKeeper session. It is
// safe to call more than once.
func (d *Detector) Close() error {
	d.closeOnce.Do(func() {
		close(d.stop)
		if d.conn != nil {
			d.conn.Close()
		}
	})
	d.wg.Wait()
	return nil
}

// set records the leader (nil for none) held in znode node and reports it
// when it differs from the last one reported.
func (d *Detector) set(info *mesos.MasterInfo, node string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.reported && node == d.node && proto.Equal(info, d.leader) {
		return
	}
	d.reported = true
	d.leader, d.node = info, node
	if info == nil {
		d.log.Info("no leading master")
	} else {
		d.log.Info("detected a new leading master", "pid", info.GetPid(), "znode", node)
	}
	// Keep only the latest undelivered value.
	select {
	case <-d.changes:
	default:
	}
	d.changes <- info
}

// watchSession forgets the leader when the session expires, or when the
// Detector has been disconnected for a whole session timeout, after which
// what it knows may be stale (Mesos' detector does the same).
func (d *Detector) watchSession(events <-chan zk.Event) {
	defer d.wg.Done()
	var timer *time.Timer
	var stale <-chan time.Time
	forgot := false
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-d.stop:
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			switch ev.State {
			case zk.StateDisconnected:
				if timer == nil {
					timer = time.NewTimer(d.timeout)
					stale = timer.C
				}
			case zk.StateHasSession:
				if timer != nil {
					timer.Stop()
					timer, stale = nil, nil
				}
				if forgot {
					forgot = false
					select {
					case d.refresh <- struct{}{}:
					default:
					}
				}
			case zk.StateExpired:
				d.log.Warn("ZooKeeper session expired; detecting again with a new one")
				d.set(nil, "")
				forgot = true
			}
		case <-stale:
			d.log.Warn("disconnected from ZooKeeper for the session timeout; the leader is unknown", "timeout", d.timeout)
			d.set(nil, "")
			forgot = true
			timer, stale = nil, nil
		}
	}
}

// watchLeader follows the lowest election znode with watches.
func (d *Detector) watchLeader() {
	defer d.wg.Done()
	retry := func() bool {
		select {
		case <-d.stop:
			return false
		case <-time.After(100 * time.Millisecond):
			return true
		}
	}
	for {
		children, _, changed, err := d.conn.ChildrenW(d.dir)
		if errors.Is(err, zk.ErrNoNode) {
			// No master has contended yet: wait for the path to appear.
			var exists bool
			exists, _, changed, err = d.conn.ExistsW(d.dir)
			if err == nil && exists {
				continue
			}
			if err == nil {
				d.set(nil, "")
			}
		}
		if err != nil {
			if errors.Is(err, zk.ErrClosing) || !retry() {
				return
			}
			continue
		}
		if ms := members(children); len(ms) == 0 {
			d.set(nil, "")
		} else if !d.follow(ms[0]) {
			// The leader's znode went away between listing and reading it,
			// or reading failed: look again.
			if !retry() {
				return
			}
			continue
		}
		select {
		case <-d.stop:
			return
		case <-changed:
		case <-d.refresh:
		}
	}
}

// follow reads the leader's znode when it is not the one already reported.
// It returns false when the read should be retried.
func (d *Detector) follow(m member) bool {
	d.mu.Lock()
	same := d.node == m.name
	d.mu.Unlock()
	if same {
		return true
	}
	data, _, err := d.conn.Get(join(d.dir, m.name))
	if err != nil {
		d.log.Debug("reading the leader's znode", "znode", m.name, "err", err)
		return false
	}
	info, err := decodeMasterInfo(m.label, data)
	if err != nil {
		// Mesos' detector gives up on data it cannot read; we report no
		// leader and keep watching for the next one.
		d.log.Error("the leading master's znode holds no MasterInfo", "znode", m.name, "err", err)
		d.set(nil, m.name)
		return true
	}
	d.set(info, m.name)
	return true
}

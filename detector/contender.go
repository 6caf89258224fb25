package detector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// Reasons a candidacy ends; Lost() reports errors wrapping one of them.
var (
	// ErrSessionExpired: ZooKeeper expired the contender's session, which
	// deleted its znode.
	ErrSessionExpired = errors.New("ZooKeeper session expired")
	// ErrDisconnected: the contender could not reach ZooKeeper for long
	// enough that its session may have expired.
	ErrDisconnected = errors.New("disconnected from ZooKeeper beyond the session timeout")
	// ErrNodeDeleted: someone deleted the contender's znode.
	ErrNodeDeleted = errors.New("election znode deleted")
)

// Fence identifies a leader's term for fencing writes: the election znode
// it created and the ZooKeeper session that owns it. The term is over
// when the znode or the session is gone.
type Fence struct {
	// Path is the full path of the election znode, for example
	// /mesos/json.info_0000000003.
	Path string
	// Sequence is the znode's sequence number; a later leader has a larger one.
	Sequence int64
	// SessionID is the ZooKeeper session that owns the znode.
	SessionID int64
}

// Contender is one master's candidacy in the election under a ZooKeeper
// path (Mesos' ZooKeeperMasterContender). Its methods are safe for
// concurrent use. It ends once, by Close or by losing the candidacy.
type Contender struct {
	conn    *zk.Conn
	fence   Fence
	timeout time.Duration
	heard   *lastHeard
	log     *slog.Logger

	elected     chan struct{}
	lost        chan error
	stop        chan struct{} // closed when the candidacy ends
	endOnce     sync.Once
	electedOnce sync.Once
	wg          sync.WaitGroup
}

// Contend joins the election under url's path on behalf of the master
// described by info: it opens a ZooKeeper session with sessionTimeout
// (ZooKeeper bounds it to between 2 and 20 of its ticks; the contender
// times its step-down by what was granted), creates the path
// if missing and an ephemeral sequential znode json.info_<seq> holding
// info as JSON. It returns once the znode exists, or fails when ctx ends
// first. The caller must Close the Contender.
func Contend(ctx context.Context, url *URL, sessionTimeout time.Duration, info *mesos.MasterInfo, opts ...Option) (*Contender, error) {
	o := buildOptions(opts)
	data, err := EncodeMasterInfo(info)
	if err != nil {
		return nil, fmt.Errorf("contending for leadership: %w", err)
	}
	heard := &lastHeard{}
	conn, events, err := dial(url, sessionTimeout, o.log, heard)
	if err != nil {
		return nil, fmt.Errorf("contending for leadership: %w", err)
	}
	if err := waitSession(ctx, events); err != nil {
		conn.Close()
		return nil, fmt.Errorf("contending for leadership at %s: %w", url, err)
	}
	var created string
	err = runCtx(ctx, conn.Close, func() error {
		if err := ensurePath(conn, url.Path, acl(url)); err != nil {
			return err
		}
		var err error
		created, err = conn.Create(url.Path+"/"+jsonLabel, data, zk.FlagEphemeralSequential, acl(url))
		if err != nil {
			return fmt.Errorf("creating the election znode under %s: %w", url.Path, err)
		}
		return nil
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("contending for leadership at %s: %w", url, err)
	}
	ms := members([]string{path.Base(created)})
	if len(ms) != 1 {
		conn.Close()
		return nil, fmt.Errorf("contending for leadership at %s: ZooKeeper created %q, not a sequential %s znode", url, created, jsonLabel)
	}
	c := &Contender{
		conn:    conn,
		fence:   Fence{Path: created, Sequence: ms[0].seq, SessionID: conn.SessionID()},
		timeout: sessionTimeout,
		heard:   heard,
		log:     o.log.With("znode", created),
		elected: make(chan struct{}),
		lost:    make(chan error, 1),
		stop:    make(chan struct{}),
	}
	c.log.Info("contending for leadership", "session", fmt.Sprintf("%#x", c.fence.SessionID))
	c.wg.Add(2)
	go c.watchSession(events)
	go c.watchElection(url.Path)
	return c, nil
}

// waitSession waits for the first session to be established.
func waitSession(ctx context.Context, events <-chan zk.Event) error {
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("no ZooKeeper session: %w", ctx.Err())
		case ev, ok := <-events:
			if !ok {
				return errors.New("ZooKeeper connection closed")
			}
			switch ev.State {
			case zk.StateHasSession:
				return nil
			case zk.StateAuthFailed:
				return errors.New("ZooKeeper authentication failed")
			}
		}
	}
}

// Elected is closed when this master becomes the leader.
func (c *Contender) Elected() <-chan struct{} { return c.elected }

// Lost delivers one error when the candidacy ends other than by Close
// (wrapping ErrSessionExpired, ErrDisconnected or ErrNodeDeleted), then is
// closed; after Close it is closed without a value. A leader must stop
// acting as one as soon as Lost is ready.
func (c *Contender) Lost() <-chan error { return c.lost }

// Fence returns the candidacy's znode and session, for fencing a leader's
// writes.
func (c *Contender) Fence() Fence { return c.fence }

// Close withdraws from the election: it closes the ZooKeeper session,
// which deletes the znode at once so the next master can lead. It waits
// for the Contender's goroutines and is safe to call more than once.
func (c *Contender) Close() error {
	c.end(nil)
	c.wg.Wait()
	return nil
}

// end ends the candidacy once: it reports err (nil for Close) on Lost and
// closes the session.
func (c *Contender) end(err error) {
	c.endOnce.Do(func() {
		if err != nil {
			c.log.Warn("lost the candidacy", "err", err)
			c.lost <- err
		}
		close(c.lost)
		close(c.stop)
		c.conn.Close()
	})
}

// watchSession ends the candidacy when the session is lost: expired,
// replaced by a new one, or disconnected until it may have expired.
//
// ZooKeeper expires a session one session timeout (the one the server
// granted, which may be shorter than requested) after it last heard from
// the client, and it heard from the client no earlier than the client's
// last request that it answered. So once disconnected, the session is
// assumed alive until 9/10 of the session timeout after the client last
// heard from a server (the tenth covers the request's round trip and
// scheduling); then the contender steps down, before ZooKeeper can let
// another master lead. A reconnection within that time (to another server,
// or after ZooKeeper elected a new leader of its own) keeps the candidacy.
func (c *Contender) watchSession(events <-chan zk.Event) {
	defer c.wg.Done()
	var timer *time.Timer
	var expired <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-c.stop:
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Type != zk.EventSession {
				continue
			}
			switch ev.State {
			case zk.StateDisconnected:
				if timer == nil {
					deadline := c.heard.get().Add(c.heard.timeout(c.timeout) * 9 / 10)
					c.log.Debug("disconnected from ZooKeeper", "server", ev.Server, "step_down_in", time.Until(deadline))
					timer = time.NewTimer(time.Until(deadline))
					expired = timer.C
				}
			case zk.StateHasSession:
				if id := c.conn.SessionID(); id != c.fence.SessionID {
					c.end(fmt.Errorf("reconnected with new session %#x: %w", id, ErrSessionExpired))
					return
				}
				if timer != nil {
					timer.Stop()
					timer, expired = nil, nil
				}
			case zk.StateExpired:
				c.end(fmt.Errorf("session %#x: %w", c.fence.SessionID, ErrSessionExpired))
				return
			case zk.StateAuthFailed:
				c.end(fmt.Errorf("authentication failed on reconnecting: %w", ErrDisconnected))
				return
			}
		case <-expired:
			c.end(fmt.Errorf("no answer from ZooKeeper since %s (session timeout %v): %w",
				c.heard.get().Format("15:04:05.000"), c.heard.timeout(c.timeout), ErrDisconnected))
			return
		}
	}
}

// watchElection follows the members under dir and closes elected when
// this contender's znode is the lowest.
func (c *Contender) watchElection(dir string) {
	defer c.wg.Done()
	name := path.Base(c.fence.Path)
	for {
		children, _, changed, err := c.conn.ChildrenW(dir)
		if err != nil {
			if errors.Is(err, zk.ErrNoNode) {
				c.end(fmt.Errorf("%s: %w", dir, ErrNodeDeleted))
				return
			}
			// Disconnected: watchSession decides whether that ends the
			// candidacy; until then, try again.
			select {
			case <-c.stop:
				return
			case <-time.After(100 * time.Millisecond):
				continue
			}
		}
		ms := members(children)
		found := false
		for _, m := range ms {
			found = found || m.name == name
		}
		if !found {
			c.end(fmt.Errorf("%s: %w", c.fence.Path, ErrNodeDeleted))
			return
		}
		if ms[0].name == name {
			c.electedOnce.Do(func() {
				c.log.Info("elected the leading master")
				close(c.elected)
			})
		}
		select {
		case <-c.stop:
			return
		case <-changed:
		}
	}
}

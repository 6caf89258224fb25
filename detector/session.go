package detector

import (
	"context"
	"time"

	"github.com/go-zookeeper/zk"
)

// Dial opens a ZooKeeper session for u, with its credentials, and waits
// until the session is established (or ctx ends): for a master's other
// ZooKeeper work, such as its registry. The caller closes the connection.
func Dial(ctx context.Context, u *URL, sessionTimeout time.Duration, opts ...Option) (*zk.Conn, error) {
	o := buildOptions(opts)
	conn, events, err := dial(u, sessionTimeout, o.log, &lastHeard{})
	if err != nil {
		return nil, err
	}
	if err := waitSession(ctx, events); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// ACL is what Mesos puts on the znodes it creates for u: open to all
// without credentials; with them, readable by all and writable by their
// creator.
func ACL(u *URL) []zk.ACL { return acl(u) }

// EnsurePath creates the znode p and its ancestors, as persistent znodes
// with acl, where they are missing.
func EnsurePath(conn *zk.Conn, p string, acl []zk.ACL) error { return ensurePath(conn, p, acl) }

// Candidates counts the masters taking part in the election under dir
// (their election znodes) and returns a watch that fires when that
// changes.
func Candidates(conn *zk.Conn, dir string) (int, <-chan zk.Event, error) {
	children, _, watch, err := conn.ChildrenW(dir)
	if err != nil {
		return 0, nil, err
	}
	return len(members(children)), watch, nil
}

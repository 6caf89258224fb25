package detector

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// ErrNotZooKeeper is returned by Contend for a URL that names a fixed
// master instead of a ZooKeeper ensemble.
var ErrNotZooKeeper = errors.New("the URL names a fixed master, not ZooKeeper")

// Option adjusts Contend and Detect.
type Option func(*options)

type options struct {
	log *slog.Logger
}

// WithLogger sends the package's logs, and the ZooKeeper client's at
// debug level, to log. Without it nothing is logged.
func WithLogger(log *slog.Logger) Option { return func(o *options) { o.log = log } }

func buildOptions(opts []Option) options {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// zkLogger adapts the ZooKeeper client's Printf logging to slog.
type zkLogger struct{ log *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	l.log.Debug("zookeeper client: " + fmt.Sprintf(format, args...))
}

// lastHeard records when a ZooKeeper client last received bytes from a
// server, on any of its connections, and the session timeout the server
// granted.
type lastHeard struct {
	nanos     atomic.Int64
	grantedMs atomic.Int32
}

func (h *lastHeard) get() time.Time { return time.Unix(0, h.nanos.Load()) }

// timeout returns the session timeout the server granted, or requested
// until one has been granted. Servers clamp requests to their bounds
// (by default 2 to 20 ticks).
func (h *lastHeard) timeout(requested time.Duration) time.Duration {
	if ms := h.grantedMs.Load(); ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return requested
}

// dialer returns a zk.Dialer whose connections update h on every read.
func (h *lastHeard) dialer() zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := net.DialTimeout(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return &heardConn{Conn: c, h: h}, nil
	}
}

type heardConn struct {
	net.Conn
	h    *lastHeard
	head []byte // the connection's first bytes, up to connectHead
}

// connectHead is how much of a connection's first message, the connect
// response, holds the granted session timeout: a 4-byte length, the
// 4-byte protocol version and the 4-byte timeout in milliseconds, all
// big-endian.
const connectHead = 12

func (c *heardConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.h.nanos.Store(time.Now().UnixNano())
		if len(c.head) < connectHead {
			c.head = append(c.head, p[:min(n, connectHead-len(c.head))]...)
			if len(c.head) == connectHead {
				if ms := int32(binary.BigEndian.Uint32(c.head[8:])); ms > 0 {
					c.h.grantedMs.Store(ms)
				}
			}
		}
	}
	return n, err
}

// dial opens a ZooKeeper session for u (adding digest credentials) and
// returns the connection and its session events. The session is
// established in the background. heard records when the client last
// heard from a server.
func dial(u *URL, sessionTimeout time.Duration, log *slog.Logger, heard *lastHeard) (*zk.Conn, <-chan zk.Event, error) {
	if !u.IsZooKeeper() {
		return nil, nil, fmt.Errorf("%s: %w", u, ErrNotZooKeeper)
	}
	conn, events, err := zk.Connect(u.Servers, sessionTimeout,
		zk.WithLogger(zkLogger{log}), zk.WithLogInfo(false), zk.WithDialer(heard.dialer()))
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to ZooKeeper %s: %w", u, err)
	}
	if u.Username != "" {
		if err := conn.AddAuth("digest", []byte(u.Username+":"+u.Password)); err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("authenticating to ZooKeeper %s as %q: %w", u, u.Username, err)
		}
	}
	return conn, events, nil
}

// acl is what Mesos puts on the znodes it creates: open to all without
// credentials, readable by all and writable by the creator with them.
func acl(u *URL) []zk.ACL {
	if u.Username == "" {
		return zk.WorldACL(zk.PermAll)
	}
	return append(zk.WorldACL(zk.PermRead), zk.AuthACL(zk.PermAll)...)
}

// ensurePath creates p and its ancestors as persistent znodes when missing.
func ensurePath(conn *zk.Conn, p string, acl []zk.ACL) error {
	cur := ""
	for _, part := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		cur = cur + "/" + part
		_, err := conn.Create(cur, nil, zk.FlagPersistent, acl)
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("creating znode %s: %w", cur, err)
		}
	}
	return nil
}

// member is one election znode.
type member struct {
	name  string // e.g. json.info_0000000003
	label string // jsonLabel or legacyLabel
	seq   int64
}

// members returns the election znodes among children, lowest sequence first.
func members(children []string) []member {
	var out []member
	for _, c := range children {
		for _, label := range []string{jsonLabel, legacyLabel} {
			if !strings.HasPrefix(c, label) {
				continue
			}
			seq, err := strconv.ParseInt(strings.TrimPrefix(c, label), 10, 64)
			if err == nil && seq >= 0 {
				out = append(out, member{name: c, label: label, seq: seq})
			}
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// runCtx runs f in a goroutine and returns its error, or ctx's error when
// ctx ends first; then cancel is called so f's blocking call returns.
func runCtx(ctx context.Context, cancel func(), f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		cancel()
		<-done
		return ctx.Err()
	}
}

func join(dir, name string) string { return path.Join(dir, name) }

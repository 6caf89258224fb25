package registry

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path"
	"slices"
	"sync"

	"github.com/go-zookeeper/zk"

	"github.com/mezzo-project/mezzo/detector"
)

// ZooKeeper is a Store in ZooKeeper, the registry of masters that elect
// their leader there (--zk): every record is a znode of its own,
// <path>/registry/<kind>/<key>, so a change writes only what changed,
// and a batch of operations is one ZooKeeper multi-op transaction, all
// or none, acknowledged by a quorum of the ensemble before Apply
// returns. ZooKeeper's writes are linearizable, so a master elected
// after another sees, once it synced, every write the other had
// acknowledged.
//
// Each transaction is fenced: it also checks that the writing master's
// election znode (an ephemeral node of its session) still exists. When
// that master lost its session — and with it its leadership, which the
// next master may already hold — the check fails and nothing is
// written (ErrDeposed): a deposed leader cannot write.
//
// The store keeps the registry's records in memory (read by Recover),
// so that operations see the state without a read per record.
type ZooKeeper struct {
	conn  *zk.Conn
	root  string // <path>/registry
	fence string
	acl   []zk.ACL

	mu     sync.Mutex
	data   map[string]map[string][]byte // nil until Recover
	closed bool
}

// ErrDeposed is returned by Apply when the master's election znode is
// gone: it no longer leads, and nothing was written.
var ErrDeposed = errors.New("registry: this master no longer leads (its ZooKeeper election node is gone); nothing was written")

// zkRecoverWorkers bounds the reads in flight during Recover.
const zkRecoverWorkers = 32

// OpenZooKeeper returns the registry under path (the masters' ZooKeeper
// path, e.g. /mesos) on conn, whose writes are fenced by fence, the
// path of the writing master's election znode. It creates the registry's
// znodes, with acl (nil: open to all), when missing. conn stays the
// caller's.
func OpenZooKeeper(conn *zk.Conn, zkPath, fence string, acl []zk.ACL) (*ZooKeeper, error) {
	if acl == nil {
		acl = zk.WorldACL(zk.PermAll)
	}
	z := &ZooKeeper{conn: conn, root: path.Join(zkPath, "registry"), fence: fence, acl: acl}
	for _, p := range z.kindPaths() {
		if err := detector.EnsurePath(conn, p, acl); err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
	}
	return z, nil
}

func (z *ZooKeeper) kindPaths() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = path.Join(z.root, k)
	}
	return out
}

// recordPath is the znode of a record: keys (role names hold "/") are
// escaped into one path element.
func (z *ZooKeeper) recordPath(kind, key string) string {
	return path.Join(z.root, kind, url.PathEscape(key))
}

// Recover syncs with the ensemble's leader (so that every write
// acknowledged before is seen) and reads the whole registry.
func (z *ZooKeeper) Recover() (*State, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.closed {
		return nil, ErrClosed
	}
	if _, err := z.conn.Sync(z.root); err != nil {
		return nil, fmt.Errorf("registry: sync with ZooKeeper: %w", err)
	}
	data := map[string]map[string][]byte{}
	type read struct{ kind, name string }
	var reads []read
	for _, k := range kinds {
		data[k] = map[string][]byte{}
		names, _, err := z.conn.Children(path.Join(z.root, k))
		if err != nil {
			return nil, fmt.Errorf("registry: list %s in ZooKeeper: %w", k, err)
		}
		for _, n := range names {
			reads = append(reads, read{k, n})
		}
	}
	// Reads are pipelined over the one connection.
	values := make([][]byte, len(reads))
	errs := make([]error, len(reads))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(zkRecoverWorkers, len(reads)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				values[i], _, errs[i] = z.conn.Get(path.Join(z.root, reads[i].kind, reads[i].name))
			}
		}()
	}
	for i := range reads {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, r := range reads {
		if errs[i] != nil {
			return nil, fmt.Errorf("registry: read %s/%s in ZooKeeper: %w", r.kind, r.name, errs[i])
		}
		key, err := url.PathUnescape(r.name)
		if err != nil {
			return nil, fmt.Errorf("registry: %s record %q: bad name: %w", r.kind, r.name, err)
		}
		data[r.kind][key] = values[i]
	}
	z.data = data
	return load(&memTxn{data: data})
}

// Apply applies ops to the records as Recover read them and writes what
// changed in one fenced transaction: all or none, durable on a quorum of
// the ensemble when it returns. It returns ErrDeposed when this master
// no longer leads.
func (z *ZooKeeper) Apply(ops ...Op) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.closed {
		return ErrClosed
	}
	if z.data == nil {
		return errors.New("registry: Apply before Recover")
	}
	t := newOverlay(&memTxn{data: z.data})
	if err := applyOps(t, ops); err != nil {
		return err
	}
	return z.write(t)
}

// Commit applies the groups of batch to the records and writes what
// changed in one fenced transaction, as Apply does; groups refused with
// an *OpError are left out.
func (z *ZooKeeper) Commit(batch [][]Op) ([]error, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.closed {
		return nil, ErrClosed
	}
	if z.data == nil {
		return nil, errors.New("registry: Commit before Recover")
	}
	t := newOverlay(&memTxn{data: z.data})
	refused, err := commitGroups(t, batch)
	if err != nil {
		return nil, err
	}
	if err := z.write(t); err != nil {
		return nil, err
	}
	return refused, nil
}

// write sends t's changes to ZooKeeper in one fenced multi-op and, once
// it succeeded, to the records in memory.
func (z *ZooKeeper) write(t *overlayTxn) error {
	reqs := []any{&zk.CheckVersionRequest{Path: z.fence, Version: -1}}
	for _, kind := range slices.Sorted(maps.Keys(t.changed)) {
		for _, key := range slices.Sorted(maps.Keys(t.changed[kind])) {
			v := t.changed[kind][key]
			_, existed := z.data[kind][key]
			p := z.recordPath(kind, key)
			switch {
			case v == nil && existed:
				reqs = append(reqs, &zk.DeleteRequest{Path: p, Version: -1})
			case v == nil:
			case existed:
				reqs = append(reqs, &zk.SetDataRequest{Path: p, Data: v, Version: -1})
			default:
				reqs = append(reqs, &zk.CreateRequest{Path: p, Data: v, Acl: z.acl})
			}
		}
	}
	if len(reqs) == 1 {
		return nil // nothing changed
	}
	if _, err := z.conn.Multi(reqs...); err != nil {
		if ok, _, eerr := z.conn.Exists(z.fence); eerr == nil && !ok {
			return ErrDeposed
		}
		return fmt.Errorf("registry: write to ZooKeeper: %w", err)
	}
	for kind, recs := range t.changed {
		for key, v := range recs {
			if v == nil {
				delete(z.data[kind], key)
			} else {
				z.data[kind][key] = v
			}
		}
	}
	return nil
}

// Close forgets the records; the connection stays the caller's.
func (z *ZooKeeper) Close() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.closed = true
	z.data = nil
	return nil
}

package fetcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrCacheInUse is returned by New (wrapped) when another agent holds
// the cache directory; New then runs without a cache.
var ErrCacheInUse = errors.New("the fetcher cache directory is in use by another agent")

// Names inside the cache directory. Entries are <user>/<hash>/ holding
// entryData (the downloaded bytes) and entryMeta (what was downloaded).
// User names starting with "." cannot name a cache directory, so these
// never clash with one.
const (
	lockName   = ".lock"    // flock(2)ed by the agent owning the cache
	partialDir = ".partial" // downloads under way and entries being deleted
	entryData  = "data"
	entryMeta  = "entry.json"
)

// cacheKey identifies a cache entry: Mesos keys its cache by user and URI.
type cacheKey struct {
	user, uri string
}

// hash names the entry's directory.
func (k cacheKey) hash() string {
	h := sha256.Sum256([]byte(k.user + "\x00" + k.uri))
	return hex.EncodeToString(h[:16])
}

// entryMetadata is entryMeta's content.
type entryMetadata struct {
	User    string    `json:"user"`
	URI     string    `json:"uri"`
	Size    int64     `json:"size"`
	Fetched time.Time `json:"fetched"`
}

// entry is one URI of one user in the cache, downloaded or on its way.
// The fetches using it hold a reference (refs); an entry is evicted or
// deleted only when none does.
type entry struct {
	key  cacheKey
	done chan struct{} // closed when the download ended

	// Written by the download goroutine before done is closed, read by
	// the fetches after it.
	err    error
	path   string   // the file to copy or extract from
	size   int64    // its length
	notes  []string // the download's progress, for the sandboxes' logs
	reason string   // why a downloaded file was not kept in the cache

	// Guarded by cache.mu.
	refs     int
	cached   bool   // committed: dir is <user>/<hash>, size counted in used
	dir      string // the entry's directory (committed or partial)
	reserved int64  // space counted in used while downloading
	lastUse  uint64 // LRU stamp
	inTable  bool   // found by new fetches of its key
	invalid  bool   // to be deleted once unreferenced (a corrupt archive)
	cancel   context.CancelCauseFunc
}

// cache is the fetcher cache: a directory of downloaded URIs of bounded
// total size, shared by the fetches of one agent. Fetches of a key that
// is missing start its download (acquire); those that come while it runs
// wait for it; all copy or extract from the one file. Space is reserved
// when a download's size is known (Content-Length, a local file's size)
// and at its end otherwise, evicting the least recently used entries no
// fetch holds; a file that cannot fit is handed to the fetches waiting
// for it and deleted, never kept. Methods are safe for concurrent use.
type cache struct {
	dir      string
	capacity int64
	log      *slog.Logger
	lock     *os.File

	ctx    context.Context // ends with close: aborts downloads
	cancel context.CancelFunc
	wg     sync.WaitGroup // download goroutines

	mu      sync.Mutex
	entries map[cacheKey]*entry
	used    int64  // committed sizes plus reservations
	clock   uint64 // LRU stamps
	trash   []string
}

// openCache takes dir for this agent (an exclusive flock on dir/.lock;
// ErrCacheInUse when another agent holds it), discards partial
// downloads and re-indexes the entries on disk, oldest use first,
// evicting while they exceed capacity.
func openCache(dir string, capacity int64, log *slog.Logger) (*cache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrCacheInUse)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	c := &cache{dir: dir, capacity: capacity, log: log, lock: lock, entries: map[cacheKey]*entry{}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if err := c.reindex(); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// reindex rebuilds the index from the directory (openCache).
func (c *cache) reindex() error {
	partial := filepath.Join(c.dir, partialDir)
	if err := os.RemoveAll(partial); err != nil {
		return fmt.Errorf("discard partial downloads: %w", err)
	}
	if err := os.Mkdir(partial, 0o755); err != nil {
		return err
	}
	users, err := os.ReadDir(c.dir)
	if err != nil {
		return err
	}
	type found struct {
		e   *entry
		use time.Time
	}
	var all []found
	for _, u := range users {
		if !u.IsDir() || strings.HasPrefix(u.Name(), ".") {
			continue
		}
		udir := filepath.Join(c.dir, u.Name())
		items, err := os.ReadDir(udir)
		if err != nil {
			return err
		}
		for _, it := range items {
			edir := filepath.Join(udir, it.Name())
			e, use, err := loadEntry(edir, u.Name(), it.Name())
			if err != nil {
				c.log.Warn("discarding a fetcher cache entry", "dir", edir, "err", err)
				if err := os.RemoveAll(edir); err != nil {
					return fmt.Errorf("discard %s: %w", edir, err)
				}
				continue
			}
			all = append(all, found{e, use})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].use.Before(all[j].use) })
	c.mu.Lock()
	for _, f := range all {
		c.clock++
		f.e.lastUse = c.clock
		c.entries[f.e.key] = f.e
		c.used += f.e.size
	}
	if c.used > c.capacity {
		c.makeRoom(0)
	}
	n, used := len(c.entries), c.used
	c.mu.Unlock()
	c.emptyTrash()
	if n > 0 {
		c.log.Info("fetcher cache re-indexed", "dir", c.dir, "entries", n, "bytes", used)
	}
	return nil
}

// loadEntry reads a committed entry's directory; an error means it is
// not a complete entry of that user.
func loadEntry(edir, user, name string) (*entry, time.Time, error) {
	b, err := os.ReadFile(filepath.Join(edir, entryMeta))
	if err != nil {
		return nil, time.Time{}, err
	}
	var m entryMetadata
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, time.Time{}, fmt.Errorf("%s: %w", entryMeta, err)
	}
	key := cacheKey{user: m.User, uri: m.URI}
	if m.User != user || key.hash() != name || m.URI == "" {
		return nil, time.Time{}, fmt.Errorf("%s names another entry (user %q, URI %q)", entryMeta, m.User, m.URI)
	}
	st, err := os.Stat(filepath.Join(edir, entryData))
	if err != nil {
		return nil, time.Time{}, err
	}
	if st.Size() != m.Size {
		return nil, time.Time{}, fmt.Errorf("%s holds %d bytes, %s says %d", entryData, st.Size(), entryMeta, m.Size)
	}
	use := st.ModTime()
	if mst, err := os.Stat(filepath.Join(edir, entryMeta)); err == nil {
		use = mst.ModTime() // touched on every use
	}
	done := make(chan struct{})
	close(done)
	return &entry{
		key: key, done: done, path: filepath.Join(edir, entryData), size: m.Size,
		cached: true, dir: edir, inTable: true,
	}, use, nil
}

// downloadFunc downloads a URI into dst (see Fetcher.get).
type downloadFunc func(ctx context.Context, dst string, sized sizeFunc, note noteFunc) (int64, error)

// acquire returns key's entry, referenced for the caller, who must
// release it. When the key is missing it starts the download with get
// (started is true). The caller waits on entry.done.
func (c *cache) acquire(key cacheKey, get downloadFunc) (e *entry, started bool, err error) {
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		return nil, false, errors.New("the fetcher is closed")
	}
	if e := c.entries[key]; e != nil {
		e.refs++
		c.clock++
		e.lastUse = c.clock
		dir, cached := e.dir, e.cached
		c.mu.Unlock()
		if cached {
			now := time.Now()
			os.Chtimes(filepath.Join(dir, entryMeta), now, now) // the LRU order survives restarts
		}
		return e, false, nil
	}
	e = &entry{key: key, done: make(chan struct{}), refs: 1, inTable: true}
	c.clock++
	e.lastUse = c.clock
	c.entries[key] = e
	var dctx context.Context
	dctx, e.cancel = context.WithCancelCause(c.ctx)
	c.wg.Add(1)
	c.mu.Unlock()
	go c.download(dctx, e, get)
	return e, true, nil
}

// download runs get into a partial directory, then commits the entry or
// hands it over uncached (its own goroutine).
func (c *cache) download(ctx context.Context, e *entry, get downloadFunc) {
	defer c.wg.Done()
	defer e.cancel(nil)
	dir, err := os.MkdirTemp(filepath.Join(c.dir, partialDir), "download-")
	if err != nil {
		c.finish(e, "", 0, err)
		return
	}
	c.mu.Lock()
	e.dir = dir
	c.mu.Unlock()
	note := func(format string, args ...any) { e.notes = append(e.notes, fmt.Sprintf(format, args...)) }
	sized := func(n int64) { c.reserve(e, n) }
	n, err := get(ctx, filepath.Join(dir, entryData), sized, note)
	if err == nil {
		now := time.Now()
		meta, _ := json.Marshal(entryMetadata{User: e.key.user, URI: e.key.uri, Size: n, Fetched: now.UTC()})
		err = os.WriteFile(filepath.Join(dir, entryMeta), meta, 0o644)
		if err == nil {
			// The file system's own timestamps are coarser than the
			// clock: uses a moment apart must stay in order.
			err = os.Chtimes(filepath.Join(dir, entryMeta), now, now)
		}
	}
	c.finish(e, dir, n, err)
}

// reserve sets the space a download counts in used to n, evicting what
// it must; when that is not possible the download goes on, to be handed
// over uncached.
func (c *cache) reserve(e *entry, n int64) {
	c.mu.Lock()
	defer func() {
		c.mu.Unlock()
		c.emptyTrash()
	}()
	if e.reason != "" || n <= e.reserved {
		return
	}
	if !c.makeRoom(n - e.reserved) {
		c.used -= e.reserved
		e.reserved = 0
		e.reason = c.noRoom(n)
		return
	}
	c.used += n - e.reserved
	e.reserved = n
}

// noRoom says why n bytes cannot be cached (c.mu held).
func (c *cache) noRoom(n int64) string {
	if n > c.capacity {
		return fmt.Sprintf("its %d bytes exceed the fetcher cache's size (%d bytes, --fetcher_cache_size)", n, c.capacity)
	}
	return fmt.Sprintf("its %d bytes do not fit in the fetcher cache (%d of %d bytes held by entries in use)", n, c.used, c.capacity)
}

// finish ends a download: on success the entry is committed to
// <user>/<hash> when its size fits, else handed over from its partial
// directory; on failure the partial directory is deleted and the error
// shared with every fetch waiting.
func (c *cache) finish(e *entry, dir string, n int64, err error) {
	if err != nil && dir != "" {
		// Gone before the fetches waiting learn of the failure.
		if rerr := os.RemoveAll(dir); rerr != nil {
			c.log.Warn("cannot delete a failed download", "dir", dir, "err", rerr)
		}
	}
	c.mu.Lock()
	defer func() {
		c.mu.Unlock()
		c.emptyTrash()
	}()
	if err != nil {
		c.used -= e.reserved
		e.reserved = 0
		c.untable(e)
		e.dir = ""
		e.err = err
		close(e.done)
		return
	}
	e.size = n
	e.path = filepath.Join(dir, entryData)
	if e.reason == "" && e.inTable {
		switch {
		case n > e.reserved && !c.makeRoom(n-e.reserved):
			e.reason = c.noRoom(n)
		default:
			final := filepath.Join(c.dir, e.key.user, e.key.hash())
			if err := c.commit(dir, final); err != nil {
				e.reason = fmt.Sprintf("cannot commit it to the cache: %v", err)
				break
			}
			c.used += n - e.reserved
			e.reserved = 0
			e.cached = true
			e.dir = final
			e.path = filepath.Join(final, entryData)
		}
	}
	if !e.cached {
		// Handed over from the partial directory, deleted by the last
		// release.
		c.used -= e.reserved
		e.reserved = 0
		c.untable(e)
		if e.reason == "" {
			e.reason = "no fetch was waiting for it any more"
		}
		if e.refs == 0 {
			c.trash = append(c.trash, dir)
			e.dir = ""
		}
	}
	close(e.done)
}

// commit moves a finished download's directory into place (c.mu held).
func (c *cache) commit(dir, final string) error {
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	if _, err := os.Lstat(final); err == nil {
		// Left by an entry that was not indexed: not ours any more.
		if err := os.RemoveAll(final); err != nil {
			return err
		}
	}
	return os.Rename(dir, final)
}

// untable takes e out of the index, so that new fetches of its key
// start afresh (c.mu held).
func (c *cache) untable(e *entry) {
	if e.inTable && c.entries[e.key] == e {
		delete(c.entries, e.key)
	}
	e.inTable = false
}

// release drops a fetch's reference. The last one cancels a download
// nobody waits for any more, deletes a file handed over uncached, and
// deletes an entry found invalid.
func (c *cache) release(e *entry) {
	c.mu.Lock()
	defer func() {
		c.mu.Unlock()
		c.emptyTrash()
	}()
	e.refs--
	if e.refs > 0 {
		return
	}
	select {
	case <-e.done:
	default:
		// Nobody waits: stop the download; new fetches start their own.
		c.untable(e)
		e.cancel(errors.New("no fetch is waiting for the download"))
		return
	}
	switch {
	case !e.cached && e.dir != "":
		c.trash = append(c.trash, e.dir)
		e.dir = ""
	case e.cached && e.invalid:
		c.remove(e)
	}
}

// invalidate marks a committed entry whose content could not be used
// (a corrupt archive): new fetches download it again, and it is deleted
// once no fetch holds it.
func (c *cache) invalidate(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.cached {
		e.invalid = true
		if e.inTable {
			c.untable(e)
		}
	}
}

// makeRoom evicts unreferenced committed entries, least recently used
// first, until need more bytes fit; false when they cannot (c.mu held).
func (c *cache) makeRoom(need int64) bool {
	if need > c.capacity {
		return false
	}
	for c.used+need > c.capacity {
		var victim *entry
		for _, e := range c.entries {
			if e.cached && e.refs == 0 && (victim == nil || e.lastUse < victim.lastUse) {
				victim = e
			}
		}
		if victim == nil {
			return false
		}
		c.log.Info("evicting from the fetcher cache", "uri", victim.key.uri, "user", victim.key.user, "bytes", victim.size)
		c.remove(victim)
	}
	return true
}

// remove takes a committed entry out of the cache: out of the index and
// the accounting, its directory renamed into the partial directory and
// deleted after c.mu is released (c.mu held).
func (c *cache) remove(e *entry) {
	c.untable(e)
	c.used -= e.size
	e.cached = false
	gone := filepath.Join(c.dir, partialDir, "evicted-"+e.key.hash()+fmt.Sprintf("-%d", c.clock))
	c.clock++
	if err := os.Rename(e.dir, gone); err != nil {
		c.log.Warn("cannot remove a fetcher cache entry", "dir", e.dir, "err", err)
		gone = e.dir
	}
	c.trash = append(c.trash, gone)
	e.dir = ""
}

// emptyTrash deletes the directories queued for deletion (c.mu not held).
func (c *cache) emptyTrash() {
	c.mu.Lock()
	trash := c.trash
	c.trash = nil
	c.mu.Unlock()
	for _, d := range trash {
		if err := os.RemoveAll(d); err != nil {
			c.log.Warn("cannot delete from the fetcher cache", "dir", d, "err", err)
		}
	}
}

// size returns the cache's capacity and the bytes it holds or reserved.
func (c *cache) size() (total, used int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.capacity, c.used
}

// close aborts the downloads under way, waits for them and lets go of
// the directory.
func (c *cache) close() {
	c.cancel()
	c.wg.Wait()
	c.emptyTrash()
	c.lock.Close() // releases the flock
}

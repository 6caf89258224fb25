package fetcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// Defaults of Config.
const (
	// DefaultAttempts is how many times an http(s) download is tried
	// in all before a transient failure fails the fetch.
	DefaultAttempts = 4
	// DefaultBackoff is the wait before the first retry; it doubles
	// for each further one (1s, 2s, 4s).
	DefaultBackoff = time.Second
)

// Config configures a Fetcher. The zero value fetches without a cache,
// without a stall timeout, with DefaultAttempts and DefaultBackoff.
type Config struct {
	// CacheDir is the cache's directory (--fetcher_cache_dir); "" runs
	// without a cache (every URI is fetched directly). The Fetcher takes
	// it for itself (an flock on CacheDir/.lock): a second Fetcher on
	// the same directory, in this process or another, runs without a
	// cache and says so in its log and the sandboxes' logs.
	CacheDir string
	// CacheSize bounds the bytes the cache holds (--fetcher_cache_size);
	// 0 runs without a cache.
	CacheSize uint64
	// StallTimeout aborts an http(s) download that received nothing for
	// that long (--fetcher_stall_timeout); 0 never does.
	StallTimeout time.Duration
	// Attempts is how many times an http(s) download is tried before a
	// transient failure (connection error, 5xx, a body cut short) fails
	// the fetch; 0 means DefaultAttempts. 4xx answers and stalls are not
	// retried.
	Attempts int
	// Backoff is the wait before the first retry, doubled for each
	// further one; 0 means DefaultBackoff.
	Backoff time.Duration
	// Client downloads http(s) URIs; nil means http.DefaultClient.
	Client *http.Client
	// Extract bounds what the extraction of one archive may write
	// (--fetcher_extract_max_size, --fetcher_extract_max_entries); the
	// zero value means the defaults.
	Extract Limits
	// Log receives the fetcher's own log lines (the sandbox log is
	// separate); nil discards them.
	Log *slog.Logger
}

// Fetcher fetches URIs into sandboxes. Create one with New (the zero
// value works too, without a cache); it is safe for concurrent use by
// any number of fetches. Close it when the agent stops.
type Fetcher struct {
	cfg   Config
	cache *cache
	// noCache says why a URI asking for the cache is fetched directly.
	noCache string
	// owner is the agent's own user, whose cache directory serves the
	// fetches for containers that run as the agent's user.
	owner     string
	closeOnce sync.Once
}

// New returns a Fetcher for cfg. With a cache it discards partial
// downloads left in CacheDir and re-indexes the entries there (they
// survive agent restarts). It fails when CacheDir cannot be used, and
// runs without a cache when another agent holds it (ErrCacheInUse,
// logged).
func New(cfg Config) (*Fetcher, error) {
	f := &Fetcher{cfg: cfg, owner: agentUser()}
	if cfg.Log == nil {
		f.cfg.Log = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.CacheDir == "":
		f.noCache = "no --fetcher_cache_dir"
	case cfg.CacheSize == 0:
		f.noCache = "--fetcher_cache_size is 0"
	case cfg.CacheSize > 1<<62:
		return nil, fmt.Errorf("--fetcher_cache_size=%d: too large", cfg.CacheSize)
	default:
		c, err := openCache(cfg.CacheDir, int64(cfg.CacheSize), f.cfg.Log)
		switch {
		case errors.Is(err, ErrCacheInUse):
			f.noCache = err.Error()
			f.cfg.Log.Warn("running without a fetcher cache: set another --fetcher_cache_dir for each agent of this machine", "err", err)
		case err != nil:
			return nil, fmt.Errorf("fetcher cache --fetcher_cache_dir=%s: %w", cfg.CacheDir, err)
		default:
			f.cache = c
		}
	}
	return f, nil
}

// agentUser is the name of the user the agent runs as.
func agentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return fmt.Sprintf("uid-%d", os.Getuid())
}

// CacheSize returns the cache's size (--fetcher_cache_size) and the
// bytes its entries and the downloads under way take; 0, 0 without a
// cache (or a Fetcher).
func (f *Fetcher) CacheSize() (total, used uint64) {
	if f == nil || f.cache == nil {
		return 0, 0
	}
	t, u := f.cache.size()
	return uint64(t), uint64(u)
}

// Close aborts the cache's downloads, waits for them and releases the
// cache directory. Fetches must have ended.
func (f *Fetcher) Close() error {
	f.closeOnce.Do(func() {
		if f.cache != nil {
			f.cache.close()
		}
	})
	return nil
}

func (f *Fetcher) logger() *slog.Logger {
	if f.cfg.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.cfg.Log
}

func (f *Fetcher) attempts() int {
	if f.cfg.Attempts > 0 {
		return f.cfg.Attempts
	}
	return DefaultAttempts
}

func (f *Fetcher) backoff() time.Duration {
	if f.cfg.Backoff > 0 {
		return f.cfg.Backoff
	}
	return DefaultBackoff
}

// Fetch fetches every URI into sandbox, in order, for a container that
// runs as user ("" for the agent's own user), and stops at the first
// failure. The error names the failing URI. Its progress is appended to
// the sandbox's stderr, which the executor's output then follows.
func (f *Fetcher) Fetch(ctx context.Context, uris []*mesos.CommandInfo_URI, sandbox, user string) error {
	log := openSandboxLog(sandbox, f.logger())
	defer log.close()
	if user == "" {
		user = f.owner
	}
	for _, u := range uris {
		log.printf('I', "Fetching URI '%s'", u.GetValue())
		dst, err := f.fetchOne(ctx, log, u, sandbox, user)
		if err != nil {
			err = fmt.Errorf("Failed to fetch '%s': %w", u.GetValue(), err)
			log.printf('E', "%v", err)
			return err
		}
		log.printf('I', "Fetched '%s' to '%s'", u.GetValue(), dst)
	}
	if len(uris) > 0 {
		log.printf('I', "Successfully fetched all URIs into '%s'", sandbox)
	}
	return nil
}

// fetchOne fetches one URI and returns where it went (the file, or the
// sandbox for an extracted cache entry). What it made in the sandbox is
// removed again when it fails.
func (f *Fetcher) fetchOne(ctx context.Context, log *sandboxLog, u *mesos.CommandInfo_URI, sandbox, user string) (_ string, err error) {
	value := u.GetValue()
	if value == "" {
		return "", errors.New("empty URI")
	}
	if err := checkScheme(value); err != nil {
		return "", err
	}
	name := u.GetOutputFile()
	if name == "" {
		name = baseName(value)
		if name == "" || name == "." || name == "/" {
			return "", fmt.Errorf("cannot derive a file name from the URI; set output_file")
		}
	}
	dst, err := within(sandbox, name)
	if err != nil {
		return "", fmt.Errorf("output file %q: %w", name, err)
	}
	rel, _ := filepath.Rel(sandbox, dst)
	var made undo
	defer func() {
		if err != nil {
			made.revert()
		}
	}()
	if err := made.mkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if u.GetCache() {
		why := f.noCache
		switch {
		case f.cache != nil:
			why = userDirProblem(user)
		case why == "":
			why = "the fetcher has no cache"
		}
		if why == "" {
			return f.fetchThroughCache(ctx, log, u, cacheKey{user: user, uri: value}, sandbox, rel, dst, &made)
		}
		log.printf('W', "Not using the fetcher cache for '%s': %s", value, why)
	}
	log.printf('I', "Fetching '%s' directly into the sandbox directory", value)
	if err := f.getInto(ctx, log, value, user, dst, &made); err != nil {
		return "", err
	}
	if u.GetExecutable() {
		return dst, os.Chmod(dst, 0o755)
	}
	if !u.GetExtract() { // proto default is true
		return dst, nil
	}
	ok, err := extract(ctx, dst, rel, sandbox, &made, f.cfg.Extract)
	if err != nil {
		return "", err
	}
	if ok {
		log.printf('I', "Extracted '%s' into '%s'", dst, sandbox)
	}
	return dst, nil
}

// getInto downloads value to dst through a temporary file next to it,
// renamed into place once complete.
func (f *Fetcher) getInto(ctx context.Context, log *sandboxLog, value, user, dst string, made *undo) error {
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".fetching-")
	if err != nil {
		return err
	}
	tmp.Close()
	log.printf('I', "Downloading resource from '%s' to '%s'", value, dst)
	if _, err := f.get(ctx, value, user, tmp.Name(), nil, log.note); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	made.created(dst)
	return nil
}

// fetchThroughCache gets the URI's cache entry (downloading it, or
// waiting for the download under way) and copies or extracts it into the
// sandbox: an archive to extract leaves only its content there, as in
// Mesos.
func (f *Fetcher) fetchThroughCache(ctx context.Context, log *sandboxLog, u *mesos.CommandInfo_URI, key cacheKey, sandbox, rel, dst string, made *undo) (string, error) {
	value := u.GetValue()
	get := func(ctx context.Context, dst string, sized sizeFunc, note noteFunc) (int64, error) {
		return f.get(ctx, value, key.user, dst, sized, note)
	}
	e, started, err := f.cache.acquire(key, get)
	if err != nil {
		return "", err
	}
	defer f.cache.release(e)
	waited := true
	switch {
	case started:
		log.printf('I', "Downloading '%s' into the fetcher cache", value)
	default:
		select {
		case <-e.done:
			waited = false
			log.printf('I', "Fetching URI '%s' from cache", value)
		default:
			log.printf('I', "Waiting for the download of '%s' into the fetcher cache, already under way", value)
		}
	}
	select {
	case <-e.done:
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for the fetcher cache: %w", ctx.Err())
	}
	if waited {
		for _, n := range e.notes {
			log.printf('W', "%s", n)
		}
	}
	if e.err != nil {
		return "", e.err
	}
	if e.reason != "" {
		log.printf('W', "'%s' is not kept in the fetcher cache: %s", value, e.reason)
	} else if waited {
		log.printf('I', "Fetching URI '%s' from cache", value)
	}
	out, err := deliver(ctx, log, u, e.path, sandbox, rel, dst, made, f.cfg.Extract)
	if err != nil {
		f.cache.invalidate(e)
		return "", err
	}
	return out, nil
}

// deliver copies or extracts a cached file into the sandbox.
func deliver(ctx context.Context, log *sandboxLog, u *mesos.CommandInfo_URI, src, sandbox, rel, dst string, made *undo, lim Limits) (string, error) {
	if u.GetExecutable() {
		if err := copyInto(src, dst, 0o755, made); err != nil {
			return "", err
		}
		return dst, nil
	}
	if u.GetExtract() {
		ok, err := extract(ctx, src, rel, sandbox, made, lim)
		if err != nil {
			return "", err
		}
		if ok {
			log.printf('I', "Extracted '%s' into '%s'", src, sandbox)
			return sandbox, nil
		}
	}
	if err := copyInto(src, dst, 0o644, made); err != nil {
		return "", err
	}
	return dst, nil
}

// copyInto copies src to dst through a temporary file.
func copyInto(src, dst string, mode os.FileMode, made *undo) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".fetching-")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, in)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), mode)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	made.created(dst)
	return nil
}

// userDirProblem says why user cannot name a cache directory ("" when
// it can).
func userDirProblem(user string) string {
	if user == "" || strings.HasPrefix(user, ".") || strings.ContainsAny(user, "/\x00") {
		return fmt.Sprintf("user %q cannot name a cache directory", user)
	}
	return ""
}

// baseName is the last path element of a URI or path, without query.
func baseName(value string) string {
	if pu, err := url.Parse(value); err == nil && pu.Scheme != "" {
		return path.Base(pu.Path)
	}
	return filepath.Base(value)
}

// sandboxLog appends the fetcher's progress to the sandbox's stderr, as
// Mesos' fetcher does before the executor starts, one line per event:
// a severity letter, the time, "fetcher]" and the message.
type sandboxLog struct {
	w io.WriteCloser
}

// openSandboxLog opens <sandbox>/stderr for appending; when it cannot,
// the lines go nowhere and the agent's log says why.
func openSandboxLog(sandbox string, agentLog *slog.Logger) *sandboxLog {
	f, err := os.OpenFile(filepath.Join(sandbox, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		agentLog.Warn("cannot write the fetcher's log to the sandbox", "sandbox", sandbox, "err", err)
		return &sandboxLog{}
	}
	return &sandboxLog{w: f}
}

func (l *sandboxLog) printf(severity byte, format string, args ...any) {
	if l.w == nil {
		return
	}
	now := time.Now()
	fmt.Fprintf(l.w, "%c%s fetcher] %s\n", severity, now.Format("0102 15:04:05.000000"), fmt.Sprintf(format, args...))
}

// note logs a download's progress (retries) as a warning.
func (l *sandboxLog) note(format string, args ...any) { l.printf('W', format, args...) }

func (l *sandboxLog) close() {
	if l.w != nil {
		l.w.Close()
	}
}

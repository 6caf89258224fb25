package fetcher

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mezzo-project/mezzo/internal/flags"
)

// ErrStalled is returned (wrapped) when a download received nothing for
// the stall timeout (--fetcher_stall_timeout).
var ErrStalled = errors.New("download stalled")

// errHTTP is a download answered with another status than 200 OK.
type errHTTP struct {
	status string
	code   int
}

func (e *errHTTP) Error() string { return "HTTP " + e.status }

// sizeFunc learns a download's length once it is known, before its
// bytes are written.
type sizeFunc func(n int64)

// noteFunc receives a line for the fetcher's log in the sandbox.
type noteFunc func(format string, args ...any)

// get downloads (or copies) value into dst, which it creates or
// truncates, and returns the number of bytes written. http(s) downloads
// that fail for a transient reason (a connection error, a 5xx answer,
// a connection cut short) are retried up to Config.Attempts times in
// all, waiting Config.Backoff, then twice that, and so on; a 4xx answer,
// a stall and a cancelled ctx end it at once. On error dst may hold a
// partial file: the caller removes it.
//
// A local file is read only when user, the container's user, may read
// it (see readableBy).
func (f *Fetcher) get(ctx context.Context, value, user, dst string, sized sizeFunc, note noteFunc) (int64, error) {
	var src string
	switch {
	case strings.HasPrefix(value, "http://") || strings.HasPrefix(value, "https://"):
		return f.httpGet(ctx, value, dst, sized, note)
	case strings.HasPrefix(value, "file://"):
		pu, err := url.Parse(value)
		if err != nil {
			return 0, err
		}
		src = pu.Path
	case filepath.IsAbs(value):
		src = value
	default:
		scheme, _, _ := strings.Cut(value, "://")
		return 0, fmt.Errorf("unsupported URI scheme %q (want http, https, file or an absolute path)", scheme)
	}
	if user != f.owner && os.Geteuid() == 0 {
		if err := readableBy(src, user); err != nil {
			return 0, err
		}
	}
	return copyLocal(ctx, src, dst, sized)
}

// readableBy fails unless the mode bits of path and of every directory
// leading to it (symbolic links resolved) let user read it, as the
// kernel would if the fetcher ran as that user, as mesos-fetcher does:
// an agent running as root must not copy a file into a sandbox whose
// user could not read it. ACLs are not consulted.
func readableBy(path, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("check %s's access to %s: %w", name, path, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return fmt.Errorf("check %s's access to %s: uid %q: %w", name, path, u.Uid, err)
	}
	if uid == 0 {
		return nil
	}
	gids := map[uint32]bool{}
	ids, _ := u.GroupIds()
	for _, g := range append(ids, u.Gid) {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			gids[uint32(n)] = true
		}
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	allowed := func(p string, want uint32) (bool, error) {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			return false, &os.PathError{Op: "stat", Path: p, Err: err}
		}
		switch {
		case st.Uid == uint32(uid):
			return st.Mode&(want<<6) != 0, nil
		case gids[st.Gid]:
			return st.Mode&(want<<3) != 0, nil
		}
		return st.Mode&want != 0, nil
	}
	denied := fmt.Errorf("user %q may not read %s: %w", name, path, os.ErrPermission)
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		ok, err := allowed(d, 0o1) // search
		if err != nil {
			return err
		}
		if !ok {
			return denied
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	ok, err := allowed(real, 0o4)
	if err != nil {
		return err
	}
	if !ok {
		return denied
	}
	return nil
}

// checkScheme fails early for a URI get cannot fetch.
func checkScheme(value string) error {
	switch {
	case strings.HasPrefix(value, "http://"), strings.HasPrefix(value, "https://"),
		strings.HasPrefix(value, "file://"), filepath.IsAbs(value):
		return nil
	}
	scheme, _, _ := strings.Cut(value, "://")
	return fmt.Errorf("unsupported URI scheme %q (want http, https, file or an absolute path)", scheme)
}

func copyLocal(ctx context.Context, src, dst string, sized sizeFunc) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return 0, err
	}
	if st.IsDir() {
		return 0, fmt.Errorf("%s is a directory", src)
	}
	if sized != nil {
		sized(st.Size())
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm()|0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, ctxReader{ctx, in})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (f *Fetcher) httpGet(ctx context.Context, value, dst string, sized sizeFunc, note noteFunc) (int64, error) {
	attempts := f.attempts()
	backoff := f.backoff()
	for attempt := 1; ; attempt++ {
		n, err := f.httpAttempt(ctx, value, dst, sized)
		if err == nil {
			return n, nil
		}
		if !transient(ctx, err) || attempt >= attempts {
			if attempt > 1 {
				return 0, fmt.Errorf("%w (attempt %d of %d)", err, attempt, attempts)
			}
			return 0, err
		}
		note("Attempt %d of %d to download '%s' failed: %v; retrying in %s", attempt, attempts, value, err, flags.FormatDuration(backoff))
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("%w (while waiting to retry after: %v)", ctx.Err(), err)
		}
		backoff *= 2
	}
}

// transient says whether a failed attempt is worth another one.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, ErrStalled) {
		return false
	}
	var he *errHTTP
	if errors.As(err, &he) {
		return he.code >= 500
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return false
	}
	var cert *tls.CertificateVerificationError
	if errors.As(err, &cert) {
		return false
	}
	// Connection refused or reset, a body cut short, a local write that
	// failed, timeouts: try again.
	return true
}

// httpAttempt is one GET of value into dst. A stall timer, armed before
// the request and re-armed by every byte that arrives, aborts it when
// nothing came for the stall timeout: a server that accepts the
// connection but sends no headers stalls it as well as one that stops
// in the middle of the body.
func (f *Fetcher) httpAttempt(ctx context.Context, value, dst string, sized sizeFunc) (int64, error) {
	c := f.cfg.Client
	if c == nil {
		c = http.DefaultClient
	}
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := f.cfg.StallTimeout
	stalled := fmt.Errorf("%w: no data received for %s (--fetcher_stall_timeout)", ErrStalled, flags.FormatDuration(stall))
	var timer *time.Timer
	if stall > 0 {
		timer = time.AfterFunc(stall, func() { cancel(stalled) })
		defer timer.Stop()
	}
	// cause names the stall instead of a bare "context canceled".
	cause := func(err error) error {
		if c := context.Cause(actx); errors.Is(c, ErrStalled) {
			return c
		}
		return err
	}
	req, err := http.NewRequestWithContext(actx, http.MethodGet, value, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, cause(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, &errHTTP{status: resp.Status, code: resp.StatusCode}
	}
	if sized != nil && resp.ContentLength >= 0 {
		sized(resp.ContentLength)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, &progressReader{r: resp.Body, timer: timer, stall: stall})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, cause(err)
	}
	return n, nil
}

// progressReader re-arms the stall timer whenever bytes arrive.
type progressReader struct {
	r     io.Reader
	timer *time.Timer
	stall time.Duration
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 && p.timer != nil {
		p.timer.Reset(p.stall)
	}
	return n, err
}

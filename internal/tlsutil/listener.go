package tlsutil

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/netutil"
)

// Bounds every listener applies (NewServer, LimitListener).
const (
	// DefaultHeaderTimeout bounds the time from a connection's first
	// byte (or the end of its previous request) to the end of a
	// request's headers, and, on a downgrade listener, the wait for the
	// first byte.
	DefaultHeaderTimeout = 30 * time.Second
	// DefaultBodyTimeout bounds the reading of a request's body; the
	// response is not bounded (event streams last).
	DefaultBodyTimeout = time.Minute
	// DefaultIdleTimeout closes a kept-alive connection with no request.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultMaxHeaderBytes bounds a request's header block.
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultMaxConns bounds the connections one listener holds open
	// when its daemon names no bound (the agent; the master takes
	// --max_connections); more wait in the kernel's backlog.
	DefaultMaxConns = 8192
)

// Listen wraps ln: TLS on every connection, or, with SupportDowngrade,
// TLS for those whose first byte starts a TLS handshake (0x16) and plain
// for the others. A nil s returns ln.
func (s *Setup) Listen(ln net.Listener) net.Listener {
	if s == nil {
		return ln
	}
	if !s.cfg.SupportDowngrade {
		return tls.NewListener(ln, s.ServerConfig())
	}
	l := &downgradeListener{
		Listener: ln,
		cfg:      s.ServerConfig(),
		timeout:  DefaultHeaderTimeout,
		conns:    make(chan net.Conn),
		errs:     make(chan error),
		done:     make(chan struct{}),
		sniffing: map[net.Conn]struct{}{},
	}
	l.wg.Add(1)
	go l.run()
	return l
}

// LimitListener bounds the connections ln holds open at once to n
// (DefaultMaxConns when n <= 0).
func LimitListener(ln net.Listener, n int) net.Listener {
	if n <= 0 {
		n = DefaultMaxConns
	}
	return netutil.LimitListener(ln, n)
}

// tlsRecordHandshake is the first byte of every TLS connection: the
// record type of the ClientHello.
const tlsRecordHandshake = 0x16

// downgradeListener accepts on its Listener and tells TLS from plain
// connections by their first byte, each on a goroutine of its own so
// that a silent client holds up no one; a client silent for timeout is
// closed.
type downgradeListener struct {
	net.Listener
	cfg     *tls.Config
	timeout time.Duration

	conns chan net.Conn
	errs  chan error
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup

	mu       sync.Mutex
	sniffing map[net.Conn]struct{}
}

// Accept returns the next connection: a *tls.Conn or a plain one.
func (l *downgradeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting, closes the connections not yet told apart, and
// waits for its goroutines.
func (l *downgradeListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.Listener.Close()
		l.mu.Lock()
		for c := range l.sniffing {
			c.Close()
		}
		l.mu.Unlock()
		l.wg.Wait()
	})
	return err
}

func (l *downgradeListener) run() {
	defer l.wg.Done()
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case l.errs <- err:
			case <-l.done:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		l.mu.Lock()
		select {
		case <-l.done:
			l.mu.Unlock()
			c.Close()
			return
		default:
		}
		l.sniffing[c] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go l.sniff(c)
	}
}

// sniff reads c's first byte and hands c on as TLS or plain.
func (l *downgradeListener) sniff(c net.Conn) {
	defer l.wg.Done()
	var first [1]byte
	_ = c.SetReadDeadline(time.Now().Add(l.timeout))
	_, err := io.ReadFull(c, first[:])
	_ = c.SetReadDeadline(time.Time{})
	l.mu.Lock()
	delete(l.sniffing, c)
	l.mu.Unlock()
	if err != nil {
		c.Close()
		return
	}
	var out net.Conn = &prefixConn{Conn: c, prefix: first[:]}
	if first[0] == tlsRecordHandshake {
		out = tls.Server(out, l.cfg)
	}
	select {
	case l.conns <- out:
	case <-l.done:
		c.Close()
	}
}

// prefixConn is a connection whose first bytes were read already.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// ServerOptions are the bounds of NewServer; zero fields take the
// defaults above.
type ServerOptions struct {
	HeaderTimeout, BodyTimeout, IdleTimeout time.Duration
	// Log receives the server's own errors (failed handshakes, bad
	// requests) at debug level; nil discards them.
	Log *slog.Logger
	// UnencryptedHTTP2 also accepts HTTP/2 without TLS from clients that
	// start with its preface (prior knowledge), up to MaxHTTP2Streams
	// concurrent requests per connection: many long-lived streams (an
	// agent's, a framework's) then share one connection and one file
	// descriptor. HTTP/1.1 clients are served as before.
	UnencryptedHTTP2 bool
}

// MaxHTTP2Streams is how many concurrent requests one HTTP/2 connection
// may carry (UnencryptedHTTP2): clients open another connection beyond.
// (The server's write scheduler visits every stream of a connection for
// each frame it writes: with 50,000 idle agents at 1,000 per connection
// that is a fifth of the master's 0.17 cores. At 100 per connection the
// agents' client transport lost most of its streams while 50,000
// registered.)
const MaxHTTP2Streams = 1000

// NewServer is an http.Server for h with Mezzo's bounds: a header
// timeout, an idle timeout, a header size limit, and a deadline on
// reading each request's body (set per request and lifted at the body's
// end, so that the streaming responses the handler writes afterwards are
// not cut: the server has no WriteTimeout).
func NewServer(h http.Handler, o ServerOptions) *http.Server {
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = DefaultHeaderTimeout
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		Handler:           bodyDeadline(h, o.BodyTimeout),
		ReadHeaderTimeout: o.HeaderTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	if o.UnencryptedHTTP2 {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
		srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: MaxHTTP2Streams, MaxReadFrameSize: 1 << 20}
	}
	return srv
}

// bodyDeadline bounds the reading of a request's body to d.
func bodyDeadline(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(d)); err != nil {
			h.ServeHTTP(w, r)
			return
		}
		r.Body = &deadlineBody{ReadCloser: r.Body, lift: func() { _ = rc.SetReadDeadline(time.Time{}) }}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline once the body is read to its end.
type deadlineBody struct {
	io.ReadCloser
	lift func()
	once sync.Once
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(b.lift)
	}
	return n, err
}

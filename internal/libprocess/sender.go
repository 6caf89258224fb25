package libprocess

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/mezzo-project/mezzo/internal/tlsutil"

	"context"
)

// Defaults of Config's zero values.
const (
	DefaultMaxQueueBytes  = 64 << 20
	DefaultDialTimeout    = 5 * time.Second
	DefaultRedialInterval = time.Second
	DefaultWriteTimeout   = 30 * time.Second
)

// queueOverhead is what each queued message is charged beyond its body,
// so that many small messages are bounded too.
const queueOverhead = 256

// Errors Send returns; the message was not queued.
var (
	// ErrClosed: the Sender was closed.
	ErrClosed = errors.New("libprocess sender closed")
	// ErrRedialTooSoon: the peer's address was dialled less than
	// RedialInterval ago and its connection is gone.
	ErrRedialTooSoon = errors.New("libprocess peer dialled too recently")
	// ErrQueueFull: the peer's queue is over MaxQueueBytes; its connection
	// is cut and it is reported exited.
	ErrQueueFull = errors.New("libprocess peer's queue is full")
)

// Config configures a Sender.
type Config struct {
	// Self is the sending process' pid, written in Libprocess-From and
	// User-Agent. Required.
	Self UPID
	// MaxQueueBytes bounds what waits for one peer address (bodies plus a
	// small overhead each); 0 is DefaultMaxQueueBytes.
	MaxQueueBytes int64
	// DialTimeout bounds a connection attempt; 0 is DefaultDialTimeout.
	DialTimeout time.Duration
	// RedialInterval is the least time between two dials of one address;
	// 0 is DefaultRedialInterval. Messages to an address whose connection
	// failed within it are refused (ErrRedialTooSoon).
	RedialInterval time.Duration
	// WriteTimeout bounds one write to a peer; 0 is DefaultWriteTimeout.
	WriteTimeout time.Duration
	// OnExited, when set, is called once for each pid messages were sent
	// to over a connection that could not be opened, broke, or was cut
	// for overflow; on a goroutine of the Sender, never on Send's caller.
	OnExited func(UPID)
	// Log receives the sender's events; nil discards them.
	Log *slog.Logger
	// TLS, when set, is the TLS of the connections the Sender opens (as
	// libprocess with LIBPROCESS_SSL_ENABLED; with SUPPORT_DOWNGRADE a
	// peer that fails the handshake is dialled again in plain). Nil is
	// plain TCP.
	TLS *tlsutil.Setup
}

// Sender sends libprocess messages: one goroutine and one persistent
// connection per peer address, opened on the first message to it, with a
// bounded queue in front. It is safe for concurrent use.
type Sender struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	closed   bool
	peers    map[string]*peer
	lastDial map[string]time.Time
	wg       sync.WaitGroup
}

// NewSender returns a Sender for cfg.
func NewSender(cfg Config) *Sender {
	if cfg.MaxQueueBytes <= 0 {
		cfg.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.RedialInterval <= 0 {
		cfg.RedialInterval = DefaultRedialInterval
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{cfg: cfg, log: log, peers: map[string]*peer{}, lastDial: map[string]time.Time{}}
}

// Send queues a message named name with body to the process to. It never
// blocks; an error says the message was dropped and why.
func (s *Sender) Send(to UPID, name string, body []byte) error {
	if to.IsZero() {
		return fmt.Errorf("send %s: no receiver", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	addr := to.Addr()
	p := s.peers[addr]
	if p == nil {
		now := time.Now()
		if last, ok := s.lastDial[addr]; ok && now.Sub(last) < s.cfg.RedialInterval {
			return fmt.Errorf("send %s to %s: %w", name, to, ErrRedialTooSoon)
		}
		s.lastDial[addr] = now
		p = &peer{s: s, addr: addr, pids: map[UPID]bool{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
		s.peers[addr] = p
		s.wg.Add(1)
		go p.run()
	}
	if err := p.push(to, name, body); err != nil {
		return fmt.Errorf("send %s to %s: %w", name, to, err)
	}
	return nil
}

// Backlog returns the messages, and their bytes as charged against the
// bound, queued for to's address and not yet written.
func (s *Sender) Backlog(to UPID) (int, int64) {
	s.mu.Lock()
	p := s.peers[to.Addr()]
	s.mu.Unlock()
	if p == nil {
		return 0, 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue), p.bytes
}

// Close closes every connection and waits for the Sender's goroutines.
// Messages still queued are dropped; no exit is reported.
func (s *Sender) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	peers := s.peers
	s.peers = map[string]*peer{}
	s.mu.Unlock()
	for _, p := range peers {
		p.stop()
	}
	s.wg.Wait()
}

// Forget drops the lastDial entries older than RedialInterval (a long
// running Sender calls it now and then to bound their number).
func (s *Sender) Forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for a, t := range s.lastDial {
		if now.Sub(t) >= s.cfg.RedialInterval {
			delete(s.lastDial, a)
		}
	}
}

type outbound struct {
	to   UPID
	name string
	body []byte
}

// peer is the connection to one address and the queue in front of it.
type peer struct {
	s    *Sender
	addr string

	mu      sync.Mutex
	queue   []outbound
	bytes   int64
	pids    map[UPID]bool // every pid sent to over this connection
	failed  bool
	stopped bool
	// overflowed is set when the queue went over its bound.
	overflowed bool
	wake       chan struct{}
	done       chan struct{} // closed by stop
}

func (p *peer) push(to UPID, name string, body []byte) error {
	p.mu.Lock()
	if p.failed || p.stopped {
		p.mu.Unlock()
		return ErrClosed
	}
	size := int64(len(body)) + queueOverhead
	p.pids[to] = true
	if p.overflowed || p.bytes+size > p.s.cfg.MaxQueueBytes {
		// Cut the peer: run sees overflowed and fails it.
		p.overflowed = true
		p.queue, p.bytes = nil, 0
		p.mu.Unlock()
		p.signal()
		return ErrQueueFull
	}
	p.queue = append(p.queue, outbound{to: to, name: name, body: body})
	p.bytes += size
	p.mu.Unlock()
	p.signal()
	return nil
}

func (p *peer) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *peer) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.stopped = true
		close(p.done)
	}
}

// run dials the peer and writes its queue until the connection fails or
// the Sender closes.
func (p *peer) run() {
	defer p.s.wg.Done()
	d := net.Dialer{Timeout: p.s.cfg.DialTimeout}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err == nil {
			// The answers are not waited for: messages are pipelined.
			_ = conn.(*net.TCPConn).SetNoDelay(true)
		}
		return conn, err
	}
	var conn net.Conn
	var err error
	if p.s.cfg.TLS != nil {
		ctx, cancel := context.WithTimeout(context.Background(), p.s.cfg.DialTimeout)
		conn, err = p.s.cfg.TLS.DialTLS(ctx, "tcp", p.addr, dial)
		cancel()
	} else {
		conn, err = dial(context.Background(), "tcp", p.addr)
	}
	if err != nil {
		p.fail(fmt.Errorf("connect: %w", err))
		return
	}
	defer conn.Close()
	broken := make(chan error, 1)
	p.s.wg.Add(1)
	go func() {
		defer p.s.wg.Done()
		broken <- readAnswers(conn)
	}()
	w := bufio.NewWriterSize(conn, 64<<10)
	self := p.s.cfg.Self.String()
	for {
		p.mu.Lock()
		batch := p.queue
		p.queue = nil
		overflowed := p.overflowed
		p.mu.Unlock()
		if overflowed {
			p.fail(ErrQueueFull)
			return
		}
		if len(batch) > 0 {
			_ = conn.SetWriteDeadline(time.Now().Add(p.s.cfg.WriteTimeout))
			var err error
			for _, m := range batch {
				if err = writeMessage(w, self, m); err != nil {
					break
				}
			}
			if err == nil {
				err = w.Flush()
			}
			p.mu.Lock()
			for _, m := range batch {
				p.bytes -= int64(len(m.body)) + queueOverhead
			}
			p.mu.Unlock()
			if err != nil {
				conn.Close()
				p.fail(fmt.Errorf("write: %w", err))
				return
			}
			continue
		}
		select {
		case <-p.wake:
		case err := <-broken:
			p.fail(fmt.Errorf("connection closed: %w", err))
			return
		case <-p.done:
			return
		}
	}
}

// fail ends the peer: it leaves the Sender's table (a later message dials
// again, RedialInterval permitting), its queue is dropped, and every pid
// it carried messages for is reported exited.
func (p *peer) fail(err error) {
	p.mu.Lock()
	if p.failed {
		p.mu.Unlock()
		return
	}
	p.failed = true
	pids := p.pids
	dropped := len(p.queue)
	p.queue, p.bytes = nil, 0
	if !p.stopped {
		p.stopped = true
		close(p.done)
	}
	p.mu.Unlock()
	s := p.s
	s.mu.Lock()
	if s.peers[p.addr] == p {
		delete(s.peers, p.addr)
	}
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return
	}
	s.log.Info("libprocess peer exited", "address", p.addr, "err", err, "dropped_messages", dropped)
	if s.cfg.OnExited != nil {
		for pid := range pids {
			s.cfg.OnExited(pid)
		}
	}
}

// writeMessage writes one message as libprocess frames it: the headers in
// its order, an empty Host, and the body as one chunk (no body and no
// Transfer-Encoding for an empty message).
func writeMessage(w *bufio.Writer, self string, m outbound) error {
	fmt.Fprintf(w, "POST /%s/%s HTTP/1.1\r\nUser-Agent: libprocess/%s\r\nLibprocess-From: %s\r\nConnection: Keep-Alive\r\nHost: \r\n",
		m.to.ID, m.name, self, self)
	if len(m.body) == 0 {
		_, err := w.WriteString("\r\n")
		return err
	}
	w.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	w.WriteString(strconv.FormatInt(int64(len(m.body)), 16))
	w.WriteString("\r\n")
	w.Write(m.body)
	_, err := w.WriteString("\r\n0\r\n\r\n")
	return err
}

// readAnswers reads and discards the peer's answers until the connection
// ends; it returns why.
func readAnswers(conn net.Conn) error {
	r := bufio.NewReader(conn)
	for {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return io.EOF
			}
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

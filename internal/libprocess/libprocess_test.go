package libprocess

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseUPID(t *testing.T) {
	for _, s := range []string{"master@127.0.0.1:5050", "scheduler-f692c91a@10.0.0.2:5060", "slave(1)@[::1]:5051"} {
		u, err := ParseUPID(s)
		if err != nil {
			t.Fatalf("ParseUPID(%q): %v", s, err)
		}
		if u.String() != s {
			t.Errorf("ParseUPID(%q).String() = %q", s, u.String())
		}
	}
	for _, s := range []string{"", "master", "@1.2.3.4:5", "m@1.2.3.4", "m@:5050", "m@1.2.3.4:0", "m@1.2.3.4:70000", "a/b@1.2.3.4:5", "m@1.2.3.4:x"} {
		if _, err := ParseUPID(s); err == nil {
			t.Errorf("ParseUPID(%q) accepted a bad pid", s)
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type inbox struct {
	mu   sync.Mutex
	msgs []Message
}

func (b *inbox) add(m Message) { b.mu.Lock(); b.msgs = append(b.msgs, m); b.mu.Unlock() }
func (b *inbox) all() []Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Message(nil), b.msgs...)
}

func TestSenderToReceiverInOrderOverOneConnection(t *testing.T) {
	var box inbox
	rc := &Receiver{ID: "sched", Handlers: map[string]func(Message){"a.Msg": box.add, "a.Empty": box.add}}
	conns := 0
	srv := httptest.NewUnstartedServer(rc)
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns++
		}
	}
	srv.Start()
	defer srv.Close()
	to := UPID{ID: "sched", Host: "127.0.0.1", Port: srv.Listener.Addr().(*net.TCPAddr).Port}
	s := NewSender(Config{Self: UPID{ID: "master", Host: "127.0.0.1", Port: 5050}})
	defer s.Close()
	const n = 500
	for i := 0; i < n; i++ {
		name, body := "a.Msg", []byte{byte(i), byte(i >> 8)}
		if i%100 == 0 {
			name, body = "a.Empty", nil
		}
		if err := s.Send(to, name, body); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all messages", func() bool { return len(box.all()) == n })
	for i, m := range box.all() {
		if m.From.String() != "master@127.0.0.1:5050" {
			t.Fatalf("message %d from %q", i, m.From)
		}
		if i%100 == 0 {
			if m.Name != "a.Empty" || len(m.Body) != 0 {
				t.Fatalf("message %d: %s %x, want an empty a.Empty", i, m.Name, m.Body)
			}
			continue
		}
		if !bytes.Equal(m.Body, []byte{byte(i), byte(i >> 8)}) {
			t.Fatalf("message %d out of order: body %x", i, m.Body)
		}
	}
	if conns != 1 {
		t.Errorf("%d connections for one peer, want 1", conns)
	}
}

// TestFramingIsLibprocess checks the bytes a Sender writes against the
// framing recorded from Mesos 1.11 (testdata/README.md "Framing").
func TestFramingIsLibprocess(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		var b strings.Builder
		// Two messages: one with a body, one empty.
		for n := 0; n < 2; {
			line, err := r.ReadString('\n')
			if err != nil {
				break
			}
			b.WriteString(line)
			if line == "0\r\n" || (line == "\r\n" && !strings.Contains(b.String()[strings.LastIndex(b.String(), "POST"):], "chunked")) {
				if line == "0\r\n" {
					l, _ := r.ReadString('\n')
					b.WriteString(l)
				}
				n++
			}
		}
		got <- b.String()
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	s := NewSender(Config{Self: UPID{ID: "master", Host: "127.0.0.1", Port: 5050}})
	defer s.Close()
	to := UPID{ID: "scheduler-1", Host: "127.0.0.1", Port: port}
	if err := s.Send(to, "mesos.internal.FrameworkRegisteredMessage", bytes.Repeat([]byte{'x'}, 174)); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(to, "mesos.internal.PongSlaveMessage", nil); err != nil {
		t.Fatal(err)
	}
	want := "POST /scheduler-1/mesos.internal.FrameworkRegisteredMessage HTTP/1.1\r\n" +
		"User-Agent: libprocess/master@127.0.0.1:5050\r\nLibprocess-From: master@127.0.0.1:5050\r\n" +
		"Connection: Keep-Alive\r\nHost: \r\nTransfer-Encoding: chunked\r\n\r\n" +
		"ae\r\n" + strings.Repeat("x", 174) + "\r\n0\r\n\r\n" +
		"POST /scheduler-1/mesos.internal.PongSlaveMessage HTTP/1.1\r\n" +
		"User-Agent: libprocess/master@127.0.0.1:5050\r\nLibprocess-From: master@127.0.0.1:5050\r\n" +
		"Connection: Keep-Alive\r\nHost: \r\n\r\n"
	select {
	case g := <-got:
		if g != want {
			t.Fatalf("wire bytes:\n%q\nwant\n%q", g, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received")
	}
}

func TestUnreachablePeerIsReportedExitedWithoutBlocking(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now: connections are refused
	exited := make(chan UPID, 4)
	s := NewSender(Config{Self: UPID{ID: "master", Host: "127.0.0.1", Port: 5050}, RedialInterval: time.Hour,
		OnExited: func(u UPID) { exited <- u }})
	defer s.Close()
	to := UPID{ID: "scheduler-x", Host: "127.0.0.1", Port: port}
	start := time.Now()
	for i := 0; i < 100; i++ {
		_ = s.Send(to, "m", make([]byte, 1000))
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("100 sends to an unreachable peer took %v", d)
	}
	select {
	case u := <-exited:
		if u != to {
			t.Fatalf("exited %v, want %v", u, to)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no exit reported for an unreachable peer")
	}
	// The address was just dialled: a forged sender cannot make us dial
	// it again at once.
	if err := s.Send(to, "m", nil); !errors.Is(err, ErrRedialTooSoon) {
		t.Fatalf("second send right after a failed dial: %v, want ErrRedialTooSoon", err)
	}
}

func TestClosedConnectionAndOverflowAreExits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	exited := make(chan UPID, 4)
	s := NewSender(Config{Self: UPID{ID: "master", Host: "127.0.0.1", Port: 5050}, RedialInterval: time.Millisecond,
		MaxQueueBytes: 1 << 20, OnExited: func(u UPID) { exited <- u }})
	defer s.Close()
	to := UPID{ID: "p", Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port}
	if err := s.Send(to, "m", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	c := <-accepted
	c.Close() // the peer went away
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("a closed connection was not reported")
	}
	// A peer that stops reading: the queue fills, the peer is cut.
	waitFor(t, "the redial interval", func() bool { return s.Send(to, "m", []byte("again")) == nil })
	c = <-accepted
	defer c.Close()
	var full error
	for i := 0; i < 10000 && full == nil; i++ {
		full = s.Send(to, "m", make([]byte, 64<<10))
	}
	if !errors.Is(full, ErrQueueFull) {
		t.Fatalf("a peer that never reads: %v, want ErrQueueFull", full)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("an overflowed peer was not reported")
	}
}

func TestReceiverAnswers(t *testing.T) {
	var box inbox
	rc := &Receiver{ID: "master", MaxBody: 100, Handlers: map[string]func(Message){"mesos.scheduler.Call": box.add}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	post := func(path, from string, body string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		if from != "" {
			req.Header.Set("Libprocess-From", from)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		path, from, body string
		want             int
	}{
		{"/master/mesos.scheduler.Call", "s@127.0.0.1:1", "x", http.StatusAccepted},
		{"/master/mesos.internal.NoSuchMessage", "s@127.0.0.1:1", "x", http.StatusAccepted},
		{"/master/mesos.scheduler.Call", "", "x", http.StatusBadRequest},
		{"/master/mesos.scheduler.Call", "nonsense", "x", http.StatusBadRequest},
		{"/master/mesos.scheduler.Call", "s@127.0.0.1:1", strings.Repeat("x", 101), http.StatusRequestEntityTooLarge},
		{"/other/mesos.scheduler.Call", "s@127.0.0.1:1", "x", http.StatusNotFound},
	} {
		if got := post(c.path, c.from, c.body); got != c.want {
			t.Errorf("POST %s from %q (%d bytes): %d, want %d", c.path, c.from, len(c.body), got, c.want)
		}
	}
	if n := len(box.all()); n != 1 {
		t.Errorf("%d messages handed on, want 1", n)
	}
}

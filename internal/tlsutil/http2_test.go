package tlsutil

import (
	"io"
	"net"
	"net/http"
	"testing"
)

// TestUnencryptedHTTP2: a server made with UnencryptedHTTP2 serves
// HTTP/2 clients with prior knowledge, limits their concurrent streams,
// and still serves HTTP/1.1; one without it serves HTTP/1.1 only.
func TestUnencryptedHTTP2(t *testing.T) {
	for _, h2 := range []bool{true, false} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, r.Proto)
		}), ServerOptions{UnencryptedHTTP2: h2})
		go srv.Serve(ln)
		url := "http://" + ln.Addr().String() + "/"

		t2 := &http.Transport{Protocols: new(http.Protocols)}
		t2.Protocols.SetUnencryptedHTTP2(true)
		resp, err := (&http.Client{Transport: t2}).Get(url)
		switch {
		case h2 && err != nil:
			t.Fatalf("HTTP/2 client: %v", err)
		case h2:
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != 2 || string(b) != "HTTP/2.0" {
				t.Errorf("HTTP/2 client was served %s (%q)", resp.Proto, b)
			}
		case err == nil:
			resp.Body.Close()
			t.Errorf("a server without UnencryptedHTTP2 answered an HTTP/2 client (%s)", resp.Proto)
		}
		t2.CloseIdleConnections()

		resp, err = http.Get(url)
		if err != nil {
			t.Fatalf("HTTP/1.1 client (UnencryptedHTTP2=%v): %v", h2, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "HTTP/1.1" {
			t.Errorf("HTTP/1.1 client (UnencryptedHTTP2=%v) was served %q", h2, b)
		}
		srv.Close()
	}
	if s := NewServer(http.NotFoundHandler(), ServerOptions{UnencryptedHTTP2: true}); s.HTTP2.MaxConcurrentStreams != MaxHTTP2Streams {
		t.Errorf("MaxConcurrentStreams = %d, want %d", s.HTTP2.MaxConcurrentStreams, MaxHTTP2Streams)
	}
}

package libprocess

import (
	"bufio"
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzParseUPID: a pid parses or fails; one that parses prints back to
// a pid that parses to the same value.
func FuzzParseUPID(f *testing.F) {
	for _, s := range []string{"master@127.0.0.1:5050", "scheduler-1@[::1]:80", "a@b:0", "@:", "x@y:65536", "sla ve@1.2.3.4:5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUPID(s)
		if err != nil {
			return
		}
		back, err := ParseUPID(u.String())
		if err != nil || back != u {
			t.Fatalf("%q parsed to %+v, printed %q, read back %+v, %v", s, u, u.String(), back, err)
		}
	})
}

// FuzzReceiver feeds raw HTTP requests to a Receiver: every request is
// answered with one of the statuses the Receiver documents, and a
// message reaches its handler only when answered 202, with the body it
// came with.
func FuzzReceiver(f *testing.F) {
	f.Add([]byte("POST /master/mesos.internal.Ping HTTP/1.1\r\nHost: x\r\nLibprocess-From: scheduler@127.0.0.1:1\r\nContent-Length: 3\r\n\r\nabc"))
	f.Add([]byte("POST /master/x HTTP/1.1\r\nHost: x\r\nUser-Agent: libprocess/s@1.2.3.4:9\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("GET /master/x HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("POST /master/a/b HTTP/1.1\r\nHost: x\r\nLibprocess-From: bad\r\n\r\n"))
	f.Add([]byte("POST /master/big HTTP/1.1\r\nHost: x\r\nLibprocess-From: s@1.2.3.4:9\r\nContent-Length: 100\r\n\r\n" + string(bytes.Repeat([]byte("z"), 100))))
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		var got []Message
		rc := &Receiver{ID: "master", MaxBody: 64, Handlers: map[string]func(Message){
			"mesos.internal.Ping": func(m Message) { got = append(got, m) },
			"big":                 func(m Message) { got = append(got, m) },
		}}
		rec := httptest.NewRecorder()
		rc.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusAccepted:
		case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
			if len(got) > 0 {
				t.Fatalf("answered %d but handled %v", rec.Code, got)
			}
		default:
			t.Fatalf("status %d", rec.Code)
		}
		for _, m := range got {
			if len(m.Body) > 64 {
				t.Fatalf("a body of %d bytes passed a 64-byte limit", len(m.Body))
			}
			if m.From.IsZero() {
				t.Fatal("a message without a sender was handled")
			}
		}
	})
}

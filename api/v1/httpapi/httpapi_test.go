package httpapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// callServer answers 202 to any well-formed scheduler call.
func callServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(Wrap(testLogger(t), func(w http.ResponseWriter, r *http.Request) error {
		var call schedpb.Call
		if _, err := DecodeCall(w, r, &call, 1024); err != nil {
			return err
		}
		if call.GetType() == schedpb.Call_UNKNOWN {
			return NotImplemented("Received 'UNKNOWN' call")
		}
		return Accepted(w)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDecodeCallStatusCodes(t *testing.T) {
	srv := callServer(t)
	pb, _ := proto.Marshal(&schedpb.Call{Type: schedpb.Call_REVIVE.Enum()})
	cases := []struct {
		name, method, ctype string
		body                []byte
		want                int
		wantBody            string
	}{
		{"json ok", "POST", "application/json", []byte(`{"type":"REVIVE"}`), 202, ""},
		{"protobuf ok", "POST", "application/x-protobuf", pb, 202, ""},
		{"unknown type", "POST", "application/json", []byte(`{}`), 501, "UNKNOWN"},
		{"GET", "GET", "application/json", nil, 405, "Expecting 'POST'"},
		{"no content type", "POST", "", []byte(`{}`), 400, "Content-Type"},
		{"charset", "POST", "application/json; charset=utf-8", []byte(`{}`), 415, "Content-Type"},
		{"xml", "POST", "text/xml", []byte(`<a/>`), 415, "Content-Type"},
		{"bad json", "POST", "application/json", []byte(`{"type":`), 400, "Failed to parse body into mesos.v1.scheduler.Call"},
		{"wrong type", "POST", "application/json", []byte(`{"type":"REVIVE","revive":{"roles":"a"}}`), 400, "revive.roles: expected an array"},
		{"bad protobuf", "POST", "application/x-protobuf", []byte{0xff, 0xff}, 400, "invalid protobuf"},
		{"too large", "POST", "application/json", bytes.Repeat([]byte(" "), 2048), 413, "exceeds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL, bytes.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want || !strings.Contains(string(b), tc.wantBody) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, b, tc.want, tc.wantBody)
			}
			if tc.want == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("405 without Allow: POST")
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	cases := map[error]int{
		BadRequest("x"): 400,
		fmt.Errorf("wrapped: %w", Forbidden("y")): 403,
		&codec.DecodeError{Problem: "z"}:          400,
		errors.New("boom"):                        500,
		Redirect("//leader:5050/x"):               307,
	}
	for err, want := range cases {
		if got := StatusOf(err); got != want {
			t.Errorf("StatusOf(%v) = %d, want %d", err, got, want)
		}
	}
}

func TestRedirectAndInternalError(t *testing.T) {
	srv := httptest.NewServer(Wrap(testLogger(t), func(w http.ResponseWriter, r *http.Request) error {
		if r.URL.Path == "/redirect" {
			return Redirect("//leader:5050/master/api/v1/scheduler")
		}
		return errors.New("disk on fire")
	}))
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(srv.URL + "/redirect")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 307 || resp.Header.Get("Location") != "//leader:5050/master/api/v1/scheduler" {
		t.Fatalf("got %d Location=%q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = client.Get(srv.URL + "/other")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(b), "disk on fire") {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}
}

func TestResponseFormat(t *testing.T) {
	for accept, want := range map[string]int{"": 200, "application/x-protobuf": 200, "text/plain": 406} {
		r := httptest.NewRequest("POST", "/", nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		_, err := ResponseFormat(r)
		got := 200
		if err != nil {
			got = StatusOf(err)
		}
		if got != want {
			t.Errorf("Accept %q: got %d want %d", accept, got, want)
		}
	}
}

// TestStreamFlushesEachRecord checks that a client sees every record as it
// is sent, before the stream ends.
func TestStreamFlushesEachRecord(t *testing.T) {
	next := make(chan struct{})
	srv := httptest.NewServer(Wrap(testLogger(t), func(w http.ResponseWriter, r *http.Request) error {
		s, err := StartStream(w, codec.JSON, http.Header{"Mesos-Stream-Id": {"abc"}})
		if err != nil {
			return err
		}
		for i := 0; i < 3; i++ {
			ev := &schedpb.Event{Type: schedpb.Event_HEARTBEAT.Enum()}
			if err := s.Send(ev); err != nil {
				return err
			}
			select {
			case <-next:
			case <-r.Context().Done():
				return nil
			}
		}
		return nil
	}))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Mesos-Stream-Id") != "abc" ||
		len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("headers %v, transfer encoding %v", resp.Header, resp.TransferEncoding)
	}
	rd := recordio.NewReader(bufio.NewReader(resp.Body), 0)
	for i := 0; i < 3; i++ {
		done := make(chan []byte, 1)
		go func() {
			rec, _ := rd.Read()
			done <- rec
		}()
		select {
		case rec := <-done:
			if string(rec) != `{"type":"HEARTBEAT"}` {
				t.Fatalf("record %d: %q", i, rec)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("record %d was not flushed", i)
		}
		next <- struct{}{}
	}
}

// TestStreamWriteThenFlush checks that records written with Write reach
// the client, in order, once Flush is called.
func TestStreamWriteThenFlush(t *testing.T) {
	srv := httptest.NewServer(Wrap(testLogger(t), func(w http.ResponseWriter, r *http.Request) error {
		s, err := StartStream(w, codec.JSON, nil)
		if err != nil {
			return err
		}
		for _, typ := range []schedpb.Event_Type{schedpb.Event_HEARTBEAT, schedpb.Event_RESCIND, schedpb.Event_ERROR} {
			if err := s.Write(&schedpb.Event{Type: typ.Enum()}); err != nil {
				return err
			}
		}
		if err := s.Flush(); err != nil {
			return err
		}
		<-r.Context().Done()
		return nil
	}))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := recordio.NewReader(bufio.NewReader(resp.Body), 0)
	done := make(chan error, 1)
	go func() {
		for _, want := range []string{`{"type":"HEARTBEAT"}`, `{"type":"RESCIND"}`, `{"type":"ERROR"}`} {
			rec, err := rd.Read()
			if err != nil {
				done <- err
				return
			}
			if string(rec) != want {
				done <- fmt.Errorf("record %q, want %q", rec, want)
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the records written before Flush did not arrive")
	}
}

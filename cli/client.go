package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	"github.com/mezzo-project/mezzo/detector"
)

// maxAnswer bounds the body of one answer the CLI reads (a GET_STATE of a
// large cluster is a few MB).
const maxAnswer = 512 << 20

// client talks to the leading master.
type client struct {
	// addr is the master's host:port.
	addr string
	// what names the master in errors: the address, or the URL it was
	// found through.
	what    string
	http    *http.Client
	timeout time.Duration
	// principal and secret, when principal is set, go with every
	// request as HTTP Basic credentials.
	principal, secret string
	// scheme is "https" when LIBPROCESS_SSL_ENABLED or the master was
	// named by an https:// URL, else "http".
	scheme string
}

// connect finds the master the options name: --master, else
// $MEZZO_MASTER, else DefaultMaster; a zk:// or file:// URL is resolved to
// the current leader.
func (o *options) connect() (*client, error) {
	master := o.master
	if master == "" {
		master = o.getenv("MEZZO_MASTER")
	}
	if master == "" {
		master = DefaultMaster
	}
	tlsConf, err := o.tls.Setup(func(k string) (string, bool) { v := o.getenv(k); return v, v != "" })
	if err != nil {
		return nil, err
	}
	c := &client{http: &http.Client{Transport: tlsConf.Transport()}, timeout: o.timeout, scheme: tlsConf.Scheme(),
		principal: cmp.Or(o.principal, o.getenv("MEZZO_PRINCIPAL")), secret: cmp.Or(o.secret, o.getenv("MEZZO_SECRET"))}
	if strings.HasPrefix(master, "https://") {
		c.scheme = "https"
	}
	if c.principal == "" && c.secret != "" {
		return nil, usagef("--secret (or $MEZZO_SECRET) without --principal (or $MEZZO_PRINCIPAL)")
	}
	if detector.Detected(master) {
		addr, err := o.resolveLeader(master)
		if err != nil {
			return nil, err
		}
		c.addr, c.what = addr, fmt.Sprintf("%s (leader of %s)", addr, master)
		return c, nil
	}
	addr, err := hostPort(master)
	if err != nil {
		return nil, err
	}
	c.addr, c.what = addr, addr
	return c, nil
}

// hostPort checks a master's host:port (an http:// prefix and a trailing
// slash are dropped; a missing port is Mesos' 5050).
func hostPort(s string) (string, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(s, "http://"), "https://"), "/")
	if s == "" || strings.ContainsAny(s, "/?# ") {
		return "", usagef("bad master address %q: want host:port, zk://host:port,.../path or file:///path", s)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if !strings.Contains(s, ":") || strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			return net.JoinHostPort(strings.Trim(s, "[]"), "5050"), nil
		}
		return "", usagef("bad master address %q: %v", s, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 || host == "" {
		return "", usagef("bad master address %q: want host:port with a port from 1 to 65535", s)
	}
	return s, nil
}

// resolveLeader asks the election named by a zk:// or file:// URL for the
// leader's address, waiting at most the request timeout.
func (o *options) resolveLeader(master string) (string, error) {
	u, err := detector.ParseURL(master)
	if err != nil {
		return "", usagef("bad master URL: %v", err)
	}
	ctx, cancel := context.WithTimeout(o.ctx, o.timeout)
	defer cancel()
	d, err := detector.Detect(ctx, u, 10*time.Second)
	if err != nil {
		return "", fmt.Errorf("cannot find the leading master through %s: %w", u, err)
	}
	defer d.Close()
	for {
		select {
		case info := <-d.Changes():
			if info != nil {
				return detector.ConnectAddress(info), nil
			}
		case <-ctx.Done():
			return "", fmt.Errorf("cannot find the leading master through %s within %s: no master leads", u, o.timeout)
		}
	}
}

// httpError is a master's answer other than 2xx.
type httpError struct {
	status int
	url    string
	body   string
}

func (e *httpError) Error() string {
	msg := strings.TrimSpace(e.body)
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	if msg == "" {
		msg = http.StatusText(e.status)
	}
	return fmt.Sprintf("%s answered %d: %s", e.url, e.status, msg)
}

func (e *httpError) Is(target error) bool {
	return target == ErrNotFound && e.status == http.StatusNotFound
}

// do sends req and returns the answer if it is 2xx; a connection failure
// names the master that could not be reached.
func (c *client) do(req *http.Request) (*http.Response, error) {
	if c.principal != "" {
		req.SetBasicAuth(c.principal, c.secret)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if req.Context().Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("no answer from %s within %s", req.URL.Host, c.timeout)
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("cannot reach the master at %s: %w", c.what, err)
	}
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(body), "leader") {
			return nil, fmt.Errorf("the master at %s has no leader to send the request to yet: %s", c.what, strings.TrimSpace(string(body)))
		}
		if resp.StatusCode == http.StatusUnauthorized {
			return nil, fmt.Errorf("%s answered 401 (%s): give credentials with --principal and --secret (or $MEZZO_PRINCIPAL and $MEZZO_SECRET)",
				req.URL.Redacted(), resp.Header.Get("WWW-Authenticate"))
		}
		return nil, &httpError{status: resp.StatusCode, url: req.URL.Redacted(), body: string(body)}
	}
	return resp, nil
}

func (c *client) url(path string, query url.Values) string {
	u := url.URL{Scheme: c.scheme, Host: c.addr, Path: path}
	if query != nil {
		u.RawQuery = query.Encode()
	}
	return u.String()
}

// call makes one operator API call (protobuf) and decodes its answer.
func (c *client) call(ctx context.Context, call *masterpb.Call) (*masterpb.Response, error) {
	resp, err := c.post(ctx, call)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("reading the answer to %s from %s: %w", call.GetType(), c.what, err)
	}
	out := &masterpb.Response{}
	if err := codec.Unmarshal(codec.Protobuf, body, out); err != nil {
		return nil, fmt.Errorf("decoding the answer to %s from %s: %w", call.GetType(), c.what, err)
	}
	return out, nil
}

// post sends an operator call; the caller reads and closes the answer.
func (c *client) post(ctx context.Context, call *masterpb.Call) (*http.Response, error) {
	body, err := proto.Marshal(call)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", call.GetType(), err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/api/v1", nil), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", call.GetType(), err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Accept", "application/x-protobuf")
	return c.do(req)
}

// getJSON reads a JSON document from addr (the master's when "").
func (c *client) getJSON(ctx context.Context, addr, path string, query url.Values, v any) error {
	u := c.url(path, query)
	if addr != "" {
		u = (&url.URL{Scheme: c.scheme, Host: addr, Path: path, RawQuery: query.Encode()}).String()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("building GET %s: %w", path, err)
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(v); err != nil {
		return fmt.Errorf("decoding %s: %w", u, err)
	}
	return nil
}

// subscribe opens the operator event stream; next returns its events in
// order until the stream ends or ctx is cancelled.
func (c *client) subscribe(ctx context.Context) (next func() (*masterpb.Event, error), closeFn func(), err error) {
	resp, err := c.post(ctx, &masterpb.Call{Type: masterpb.Call_SUBSCRIBE.Enum()})
	if err != nil {
		return nil, nil, err
	}
	r := recordio.NewReader(resp.Body, 0)
	next = func() (*masterpb.Event, error) {
		rec, err := r.Read()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("the master at %s closed the event stream", c.what)
			}
			return nil, fmt.Errorf("reading the event stream from %s: %w", c.what, err)
		}
		ev := &masterpb.Event{}
		if err := codec.Unmarshal(codec.Protobuf, rec, ev); err != nil {
			return nil, fmt.Errorf("decoding an event from %s: %w", c.what, err)
		}
		return ev, nil
	}
	return next, func() { resp.Body.Close() }, nil
}

// request is a context bounded by the request timeout.
func (o *options) request() (context.Context, context.CancelFunc) {
	return context.WithTimeout(o.ctx, o.timeout)
}

// postForm POSTs a form to a master endpoint and discards the answer.
func (c *client) postForm(ctx context.Context, path string, form url.Values) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(path, nil), strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("building POST %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return resp.Body.Close()
}

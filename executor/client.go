package executor

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	"github.com/mezzo-project/mezzo/internal/flags"
	"github.com/mezzo-project/mezzo/internal/tlsutil"
)

// Env is what an executor learns from the environment the agent gives it
// (see Mesos' executor environment: MESOS_FRAMEWORK_ID, ...).
type Env struct {
	// FrameworkID and ExecutorID name this executor (MESOS_FRAMEWORK_ID,
	// MESOS_EXECUTOR_ID).
	FrameworkID, ExecutorID string
	// Endpoint is the agent's "ip:port" (MESOS_AGENT_ENDPOINT, or the
	// address part of MESOS_SLAVE_PID).
	Endpoint string
	// Sandbox is the executor's sandbox (MESOS_SANDBOX, else
	// MESOS_DIRECTORY, else the working directory).
	Sandbox string
	// Checkpoint is MESOS_CHECKPOINT=1: the executor survives a lost
	// connection and re-subscribes for up to RecoveryTimeout, waiting at
	// most SubscriptionBackoffMax between attempts.
	Checkpoint             bool
	RecoveryTimeout        time.Duration
	SubscriptionBackoffMax time.Duration
	// ShutdownGracePeriod is MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD (default
	// 5 s): the time the agent allows between SHUTDOWN and killing us.
	ShutdownGracePeriod time.Duration
	// AuthenticationToken is MESOS_EXECUTOR_AUTHENTICATION_TOKEN: the
	// token the agent issued this executor, sent with every call as
	// "Authorization: Bearer <token>" (empty: none sent).
	AuthenticationToken string
	// TLS is what the LIBPROCESS_SSL_* variables (which the agent passes
	// on) say: with it the executor speaks https to Endpoint. Nil is
	// plain HTTP.
	TLS *tlsutil.Setup
}

// EnvFromOS reads Env with getenv (os.Getenv when nil).
func EnvFromOS(getenv func(string) string) (Env, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	e := Env{
		FrameworkID:            getenv("MESOS_FRAMEWORK_ID"),
		ExecutorID:             getenv("MESOS_EXECUTOR_ID"),
		Endpoint:               getenv("MESOS_AGENT_ENDPOINT"),
		Sandbox:                getenv("MESOS_SANDBOX"),
		Checkpoint:             getenv("MESOS_CHECKPOINT") == "1",
		RecoveryTimeout:        15 * time.Minute,
		SubscriptionBackoffMax: 2 * time.Second,
		ShutdownGracePeriod:    5 * time.Second,
		AuthenticationToken:    getenv("MESOS_EXECUTOR_AUTHENTICATION_TOKEN"),
	}
	if e.FrameworkID == "" {
		return e, errors.New("expecting MESOS_FRAMEWORK_ID to be set in the environment")
	}
	if e.ExecutorID == "" {
		return e, errors.New("expecting MESOS_EXECUTOR_ID to be set in the environment")
	}
	if e.Endpoint == "" {
		if pid := getenv("MESOS_SLAVE_PID"); pid != "" {
			if _, addr, ok := strings.Cut(pid, "@"); ok {
				e.Endpoint = addr
			}
		}
	}
	if e.Endpoint == "" {
		return e, errors.New("expecting MESOS_AGENT_ENDPOINT (or MESOS_SLAVE_PID) to be set in the environment")
	}
	tlsConf, err := tlsutil.FromEnv(func(k string) (string, bool) { v := getenv(k); return v, v != "" })
	if err != nil {
		return e, fmt.Errorf("TLS to the agent: %w", err)
	}
	e.TLS = tlsConf
	if e.Sandbox == "" {
		e.Sandbox = getenv("MESOS_DIRECTORY")
	}
	if e.Sandbox == "" {
		e.Sandbox, _ = os.Getwd()
	}
	for _, d := range []struct {
		name string
		p    *time.Duration
	}{
		{"MESOS_RECOVERY_TIMEOUT", &e.RecoveryTimeout},
		{"MESOS_SUBSCRIPTION_BACKOFF_MAX", &e.SubscriptionBackoffMax},
		{"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", &e.ShutdownGracePeriod},
	} {
		if v := getenv(d.name); v != "" {
			x, err := flags.ParseDuration(v)
			if err != nil {
				return e, fmt.Errorf("%s: %w", d.name, err)
			}
			*d.p = x
		}
	}
	return e, nil
}

// Client speaks the v1 executor API to one agent: POST
// http(s)://<endpoint>/api/v1/executor (https with Env.TLS).
type Client struct {
	// URL is the executor endpoint's full URL.
	URL string
	// Format is the encoding of calls and events (JSON by default).
	Format codec.Format
	// HTTP is the client used; nil means a client without timeouts
	// (the subscription stream lives long).
	HTTP *http.Client

	// Token is sent as "Authorization: Bearer <Token>" when not empty.
	Token string

	frameworkID *mesos.FrameworkID
	executorID  *mesos.ExecutorID
}

// NewClient returns a client for the executor described by e.
func NewClient(e Env, f codec.Format) *Client {
	var hc *http.Client
	if e.TLS != nil {
		hc = e.TLS.Client(0)
	}
	return &Client{
		HTTP:        hc,
		URL:         e.TLS.Scheme() + "://" + e.Endpoint + "/api/v1/executor",
		Format:      f,
		Token:       e.AuthenticationToken,
		frameworkID: &mesos.FrameworkID{Value: &e.FrameworkID},
		executorID:  &mesos.ExecutorID{Value: &e.ExecutorID},
	}
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) newCall(t execpb.Call_Type) *execpb.Call {
	return &execpb.Call{FrameworkId: c.frameworkID, ExecutorId: c.executorID, Type: t.Enum()}
}

func (c *Client) post(ctx context.Context, call *execpb.Call) (*http.Response, error) {
	body, err := codec.Marshal(c.Format, call)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", c.Format.MediaType())
	req.Header.Set("Accept", c.Format.MediaType())
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	return c.http().Do(req)
}

// Stream is an open subscription: a sequence of events.
type Stream struct {
	body   io.ReadCloser
	rec    *recordio.Reader
	format codec.Format
}

// Subscribe sends SUBSCRIBE (with what the executor has not seen
// acknowledged) and returns the event stream.
func (c *Client) Subscribe(ctx context.Context, sub *execpb.Call_Subscribe) (*Stream, error) {
	call := c.newCall(execpb.Call_SUBSCRIBE)
	if sub == nil {
		sub = &execpb.Call_Subscribe{}
	}
	call.Subscribe = sub
	resp, err := c.post(ctx, call)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("SUBSCRIBE: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return &Stream{body: resp.Body, rec: recordio.NewReader(resp.Body, 0), format: c.Format}, nil
}

// Next returns the next event.
func (s *Stream) Next() (*execpb.Event, error) {
	b, err := s.rec.Read()
	if err != nil {
		return nil, err
	}
	ev := &execpb.Event{}
	if err := codec.Unmarshal(s.format, b, ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// Close ends the subscription.
func (s *Stream) Close() error { return s.body.Close() }

// Send posts a non-SUBSCRIBE call and expects 202 Accepted.
func (c *Client) Send(ctx context.Context, call *execpb.Call) error {
	if call.FrameworkId == nil {
		call.FrameworkId = c.frameworkID
	}
	if call.ExecutorId == nil {
		call.ExecutorId = c.executorID
	}
	resp, err := c.post(ctx, call)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s: %s: %s", call.GetType(), resp.Status, strings.TrimSpace(string(b)))
	}
	io.Copy(io.Discard, resp.Body)
	return nil
}

// Update sends an UPDATE call carrying status.
func (c *Client) Update(ctx context.Context, status *mesos.TaskStatus) error {
	call := c.newCall(execpb.Call_UPDATE)
	call.Update = &execpb.Call_Update{Status: status}
	return c.Send(ctx, call)
}

// NewUUID returns 16 random bytes (a version-4 UUID) for TaskStatus.uuid.
func NewUUID() []byte {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The HTTP API of a running service (`mezzo service run`), on the address
// in <state_dir>/api.addr:
//
//	GET  /v1/status   the Status document (JSON)
//	POST /v1/scale    {"role": "replica", "instances": 5}: scale a role
//	POST /v1/update   body: a new spec (YAML or JSON) of the same service;
//	                  instances whose rendering changed restart one at a
//	                  time (rolling), counts follow the new spec
//	POST /v1/stop     tear the framework down (its tasks are killed),
//	                  forget the state, and end `run`
//
// Errors are JSON {"error": "..."} with status 400 (bad request), 404
// (unknown path or role) or 405 (wrong method).

// Status is the state of a running service.
type Status struct {
	Service     string       `json:"service"`
	FrameworkID string       `json:"framework_id"`
	API         string       `json:"api"`
	Roles       []RoleStatus `json:"roles"`
}

// RoleStatus is one role's instances.
type RoleStatus struct {
	Name      string      `json:"name"`
	Instances int         `json:"instances"` // wanted
	Healthy   int         `json:"healthy"`
	Waiting   string      `json:"waiting,omitempty"` // why pending instances wait
	Tasks     []*Instance `json:"tasks"`
}

// ScaleRequest is the body of POST /v1/scale.
type ScaleRequest struct {
	Role      string `json:"role"`
	Instances int    `json:"instances"`
}

type apiRequest struct {
	fn    func(ctx context.Context) (any, error)
	reply chan apiResponse
}

type apiResponse struct {
	v   any
	err error
}

// apiError carries an HTTP status.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

func (s *Scheduler) apiHandler() http.Handler {
	mux := http.NewServeMux()
	route := func(method, path string, fn func(r *http.Request, body []byte) (func(ctx context.Context) (any, error), error)) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != method {
				writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": fmt.Sprintf("%s wants %s", path, method)})
				return
			}
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "read body: " + err.Error()})
				return
			}
			op, err := fn(r, body)
			if err == nil {
				req := apiRequest{fn: op, reply: make(chan apiResponse, 1)}
				select {
				case s.reqs <- req:
					resp := <-req.reply
					var v any
					v, err = resp.v, resp.err
					if err == nil {
						writeJSON(w, http.StatusOK, v)
						return
					}
				case <-r.Context().Done():
					return
				}
			}
			status := http.StatusInternalServerError
			var ae *apiError
			if errors.As(err, &ae) {
				status = ae.status
			}
			writeJSON(w, status, map[string]string{"error": err.Error()})
		})
	}
	route(http.MethodGet, "/v1/status", func(*http.Request, []byte) (func(context.Context) (any, error), error) {
		return func(context.Context) (any, error) { return s.status(), nil }, nil
	})
	route(http.MethodPost, "/v1/scale", func(_ *http.Request, body []byte) (func(context.Context) (any, error), error) {
		var req ScaleRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return nil, badRequest("scale: body: %v (want {\"role\": NAME, \"instances\": N})", err)
		}
		if req.Instances < 0 {
			return nil, badRequest("scale: instances %d: must not be negative", req.Instances)
		}
		return func(context.Context) (any, error) {
			if err := s.setScale(req.Role, req.Instances); err != nil {
				return nil, err
			}
			return s.status(), nil
		}, nil
	})
	route(http.MethodPost, "/v1/update", func(_ *http.Request, body []byte) (func(context.Context) (any, error), error) {
		spec, err := ParseSpec(body)
		if err != nil {
			return nil, badRequest("update: %v", err)
		}
		return func(context.Context) (any, error) {
			if err := s.setSpec(spec); err != nil {
				return nil, err
			}
			return s.status(), nil
		}, nil
	})
	route(http.MethodPost, "/v1/stop", func(*http.Request, []byte) (func(context.Context) (any, error), error) {
		return func(ctx context.Context) (any, error) {
			st := s.status()
			if s.st.FrameworkID != "" {
				if err := s.client.Teardown(ctx); err != nil {
					return nil, fmt.Errorf("stop: teardown: %w", err)
				}
			}
			s.log.Info("torn down; state removed")
			s.stopped = true
			_ = os.Remove(statePath(s.spec.StateDir))
			_ = os.Remove(filepath.Join(s.spec.StateDir, APIAddrFile))
			return st, nil
		}, nil
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such endpoint " + r.URL.Path + " (see /v1/status, /v1/scale, /v1/update, /v1/stop)"})
	})
	return mux
}

// setScale sets how many instances role should have, overriding the
// spec's count until the next setSpec; converge then adds instances or
// kills the highest-numbered ones.
func (s *Scheduler) setScale(role string, n int) error {
	if s.spec.role(role) == nil {
		return &apiError{http.StatusNotFound, fmt.Sprintf("scale: service %s has no role %q", s.spec.Name, role)}
	}
	if s.st.Scale == nil {
		s.st.Scale = map[string]int{}
	}
	s.st.Scale[role], s.dirty = n, true
	s.log.Info("scaling", "role", role, "instances", n)
	return nil
}

// setSpec replaces the spec with a new one of the same service (its state
// dir and API address stay); converge then restarts the instances whose
// rendering changed, one at a time.
func (s *Scheduler) setSpec(spec *Spec) error {
	if spec.Name != s.spec.Name {
		return badRequest("update: the spec is of service %q, this is %q", spec.Name, s.spec.Name)
	}
	spec.StateDir, spec.API = s.spec.StateDir, s.spec.API
	s.spec, s.st.Scale, s.dirty = spec, nil, true
	s.log.Info("spec updated; restarting changed instances one at a time")
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *Scheduler) status() *Status {
	st := &Status{Service: s.spec.Name, FrameworkID: s.st.FrameworkID, API: s.apiAddr}
	for _, r := range s.spec.Roles {
		rs := RoleStatus{Name: r.Name, Instances: s.wanted(r), Waiting: s.waiting[r.Name], Tasks: []*Instance{}}
		for _, in := range s.st.Instances {
			if in.Role != r.Name {
				continue
			}
			c := *in
			rs.Tasks = append(rs.Tasks, &c)
			if s.healthy(in) {
				rs.Healthy++
			}
		}
		st.Roles = append(st.Roles, rs)
	}
	return st
}

// Client calls the API of a running service.
type Client struct {
	// Addr is the API's host:port.
	Addr string
	HTTP *http.Client
}

// NewClient returns a client for the service whose state dir is dir,
// reading the API's address from <dir>/api.addr.
func NewClient(dir string) (*Client, error) {
	b, err := os.ReadFile(filepath.Join(dir, APIAddrFile))
	if err != nil {
		return nil, fmt.Errorf("the service is not running (no API address in %s): %w", dir, err)
	}
	return &Client{Addr: strings.TrimSpace(string(b)), HTTP: &http.Client{Timeout: 30 * time.Second}}, nil
}

// Do sends a request to path (GET when body is nil) and decodes the
// answer into out.
func (c *Client) Do(ctx context.Context, path string, body []byte, out any) error {
	method := http.MethodGet
	if body != nil {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.Addr+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("service API: %w", err)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("service API at %s (is `mezzo service run` running?): %w", c.Addr, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("service API: %s", e.Error)
		}
		return fmt.Errorf("service API: %s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("service API: decode answer: %w", err)
		}
	}
	return nil
}

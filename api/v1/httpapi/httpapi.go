// Package httpapi is the shared HTTP edge of Mezzo's v1 endpoints
// (/api/v1/scheduler, /api/v1/executor, /api/v1): it decodes calls with
// Mesos' content negotiation, maps typed errors to status codes in one
// place, bounds request sizes, and writes single responses and RecordIO
// event streams that are flushed record by record.
//
// Handlers have the shape func(w, r) error. A handler that answers writes
// the answer itself (Respond, Accepted, or a Stream) and returns nil; a
// handler that fails returns an error, and Wrap turns it into the status
// code it carries (see Error) with a plain-text body, as Mesos answers.
package httpapi

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
)

// DefaultMaxBodySize bounds a call's body unless a handler says otherwise:
// 16 MiB, well above the largest realistic ACCEPT with a task group.
const DefaultMaxBodySize = 16 << 20

// Error is an error that carries the HTTP status it should be answered
// with. Handlers return it (usually through the constructors below); Wrap
// writes Status and Message.
type Error struct {
	Status  int
	Message string
	// Header holds extra response headers (Allow for 405, Location for 307).
	Header http.Header
	// Err is the underlying cause, if any; it is logged, not sent.
	Err error
	// Expected marks a refusal that is part of normal operation (a
	// standby master's 503 while no leader serves, which every agent and
	// framework meets during a failover): Wrap logs it at debug level.
	Expected bool
}

// Error describes what went wrong.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given status and a formatted message.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400 with msg.
func BadRequest(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, format, args...)
}

// Forbidden is a 403 with msg.
func Forbidden(format string, args ...any) *Error {
	return Errorf(http.StatusForbidden, format, args...)
}

// NotImplemented is a 501 with msg (Mesos' answer to a call of type UNKNOWN).
func NotImplemented(format string, args ...any) *Error {
	return Errorf(http.StatusNotImplemented, format, args...)
}

// ServiceUnavailable is a 503 with msg.
func ServiceUnavailable(format string, args ...any) *Error {
	return Errorf(http.StatusServiceUnavailable, format, args...)
}

// Conflict is a 409 with msg.
func Conflict(format string, args ...any) *Error {
	return Errorf(http.StatusConflict, format, args...)
}

// Redirect is a 307 to location (Mesos sends a protocol-relative
// "//host:port/path").
func Redirect(location string) *Error {
	return &Error{Status: http.StatusTemporaryRedirect, Header: http.Header{"Location": {location}}}
}

// StatusOf returns the HTTP status for err: an *Error's own status, 400 for
// malformed input (codec.ErrMalformed), 413 for an oversized body, and 500
// for anything else.
func StatusOf(err error) int {
	var he *Error
	if errors.As(err, &he) {
		return he.Status
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	if errors.Is(err, codec.ErrMalformed) {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// HandlerFunc is the shape of a v1 endpoint handler; see the package doc.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Wrap adapts h to http.Handler: it answers errors with their status and a
// plain-text body, and logs one line per request at debug level (refusals
// at info or warn, server faults at error: see errorLogLevel).
func Wrap(log *slog.Logger, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w}
		err := h(rw, r)
		if err != nil {
			writeError(rw, err)
		}
		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status, "remote", r.RemoteAddr, "elapsed", time.Since(start)}
		if err == nil {
			log.Debug("http request", attrs...)
			return
		}
		attrs = append(attrs, "err", err)
		var he *Error
		if errors.As(err, &he) && he.Expected {
			log.Debug("http request refused", attrs...)
			return
		}
		if level := errorLogLevel(status); level == slog.LevelError {
			log.Error("http request failed", attrs...)
		} else {
			log.Log(r.Context(), level, "http request refused", attrs...)
		}
	})
}

// errorLogLevel is the level of the log line of a request answered with
// an error of status: server faults (500, 502, 504, ...) at error; a
// refusal the client caused (4xx) or a call this process does not
// implement (501) at info; 503 (not the leader, shutting down, a resource
// not available now) at warn.
func errorLogLevel(status int) slog.Level {
	switch {
	case status < 500, status == http.StatusNotImplemented:
		return slog.LevelInfo
	case status == http.StatusServiceUnavailable:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func writeError(w *statusWriter, err error) {
	if w.status != 0 {
		return // the answer has begun (a stream); the connection just ends
	}
	status := StatusOf(err)
	msg := err.Error()
	var he *Error
	if errors.As(err, &he) {
		for k, vs := range he.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		msg = he.Message
	} else if status == http.StatusInternalServerError {
		msg = "internal error: " + msg
	}
	if msg != "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(status)
	io.WriteString(w, msg)
}

// statusWriter remembers the status written, and passes Flush through.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// RequirePOST answers 405 with "Allow: POST" for any other method, as Mesos
// does on every v1 endpoint.
func RequirePOST(r *http.Request) error {
	if r.Method == http.MethodPost {
		return nil
	}
	return &Error{
		Status:  http.StatusMethodNotAllowed,
		Message: fmt.Sprintf("Expecting 'POST', received '%s'", r.Method),
		Header:  http.Header{"Allow": {http.MethodPost}},
	}
}

// RequestFormat returns the encoding a call's Content-Type names: 400 when
// the header is absent, 415 when it is not exactly one of the two media
// types.
func RequestFormat(r *http.Request) (codec.Format, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return codec.JSON, BadRequest("Expecting 'Content-Type' to be present")
	}
	f, ok := codec.FormatOf(ct)
	if !ok {
		return codec.JSON, Errorf(http.StatusUnsupportedMediaType,
			"Expecting 'Content-Type' of %s or %s, got '%s'", codec.MediaJSON, codec.MediaProtobuf, ct)
	}
	return f, nil
}

// ResponseFormat negotiates the response encoding from the Accept header:
// 406 when neither JSON nor protobuf is acceptable.
func ResponseFormat(r *http.Request) (codec.Format, error) {
	accept := strings.Join(r.Header.Values("Accept"), ",")
	f, ok := codec.Negotiate(accept)
	if !ok {
		return f, Errorf(http.StatusNotAcceptable,
			"Expecting 'Accept' to allow %s or %s", codec.MediaJSON, codec.MediaProtobuf)
	}
	return f, nil
}

// DecodeCall checks the method and Content-Type of r, reads at most
// maxBody bytes of its body (DefaultMaxBodySize when maxBody <= 0) and
// decodes it into call. It returns the request's encoding.
func DecodeCall(w http.ResponseWriter, r *http.Request, call proto.Message, maxBody int64) (codec.Format, error) {
	if err := RequirePOST(r); err != nil {
		return codec.JSON, err
	}
	f, err := RequestFormat(r)
	if err != nil {
		return f, err
	}
	body, err := ReadBody(w, r, maxBody)
	if err != nil {
		return f, err
	}
	if err := codec.Unmarshal(f, body, call); err != nil {
		return f, &Error{
			Status:  http.StatusBadRequest,
			Message: fmt.Sprintf("Failed to parse body into %s: %v", call.ProtoReflect().Descriptor().FullName(), err),
			Err:     err,
		}
	}
	return f, nil
}

// ReadBody reads at most maxBody bytes of r's body (DefaultMaxBodySize when
// maxBody <= 0): 413 when it is longer, 400 when it cannot be read.
func ReadBody(w http.ResponseWriter, r *http.Request, maxBody int64) ([]byte, error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBodySize
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, Errorf(http.StatusRequestEntityTooLarge, "Request body exceeds %d bytes", maxBody)
		}
		return nil, BadRequest("Failed to read request body: %v", err)
	}
	return body, nil
}

// Respond writes m as a 200 response in format f.
func Respond(w http.ResponseWriter, f codec.Format, m proto.Message) error {
	b, err := codec.MarshalV1(f, m)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", f.MediaType())
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	return err
}

// Accepted writes an empty 202, Mesos' answer to an asynchronous call.
func Accepted(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// Stream is a streaming 200 response of RecordIO-framed messages. It is not
// safe for concurrent use: one goroutine owns it.
type Stream struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	rec    *recordio.Writer
	format codec.Format
}

// StartStream begins a streaming response in format f with the given extra
// headers (Mesos-Stream-Id, ...) and flushes the headers at once so the
// client sees the stream open.
func StartStream(w http.ResponseWriter, f codec.Format, header http.Header) (*Stream, error) {
	h := w.Header()
	for k, vs := range header {
		h[k] = vs
	}
	h.Set("Content-Type", f.MediaType())
	h.Del("Content-Length")
	w.WriteHeader(http.StatusOK)
	s := &Stream{w: w, rc: http.NewResponseController(w), rec: recordio.NewWriter(w), format: f}
	if err := s.rc.Flush(); err != nil {
		return nil, fmt.Errorf("flush stream headers: %w", err)
	}
	return s, nil
}

// Format returns the stream's encoding.
func (s *Stream) Format() codec.Format { return s.format }

// Send encodes m, writes it as one record and flushes it to the client.
func (s *Stream) Send(m proto.Message) error {
	b, err := codec.MarshalV1(s.format, m)
	if err != nil {
		return err
	}
	return s.SendEncoded(b)
}

// Write encodes m and writes it as one record without flushing it: a
// writer that has several records to send writes them all and then calls
// Flush once, so that they leave together rather than one write each.
func (s *Stream) Write(m proto.Message) error {
	b, err := codec.MarshalV1(s.format, m)
	if err != nil {
		return err
	}
	return s.rec.Write(b)
}

// Flush sends what Write has written to the client.
func (s *Stream) Flush() error {
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("flush stream record: %w", err)
	}
	return nil
}

// SendEncoded writes an already encoded message as one record and flushes.
func (s *Stream) SendEncoded(b []byte) error {
	if err := s.rec.Write(b); err != nil {
		return err
	}
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("flush stream record: %w", err)
	}
	return nil
}

// SetWriteDeadline bounds the next writes, so a client that stops reading
// cannot block its stream's owner forever.
func (s *Stream) SetWriteDeadline(t time.Time) error {
	return s.rc.SetWriteDeadline(t)
}

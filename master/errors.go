package master

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/mezzo-project/mezzo/api/v1/httpapi"
)

// errKind is what kind of refusal a core error is. The core knows nothing
// of HTTP: the edge (httpError) turns each kind into its status code.
type errKind int

const (
	// errInvalid: the call is malformed or does not fit the state it
	// names (400).
	errInvalid errKind = iota + 1
	// errForbidden: the caller may not make the call (403).
	errForbidden
	// errNotFound: the call names something the master does not have
	// (404).
	errNotFound
	// errConflict: the call conflicts with the cluster's state and may
	// be forced (409).
	errConflict
	// errUnavailable: the master cannot make the call now; it may be
	// retried (503).
	errUnavailable
	// errUnsupported: the master does not implement the call (501).
	errUnsupported
)

// coreError is a refusal from the master's core: its kind and the message
// the caller is answered with (Mesos' wording where Mesos has one).
type coreError struct {
	kind errKind
	msg  string
	// cause, if any, is logged, not sent.
	cause error
}

// Error returns the message.
func (e *coreError) Error() string { return e.msg }

// Unwrap returns the cause.
func (e *coreError) Unwrap() error { return e.cause }

func refusal(kind errKind, format string, args ...any) *coreError {
	return &coreError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// invalidf is a refusal of kind errInvalid.
func invalidf(format string, args ...any) error { return refusal(errInvalid, format, args...) }

// forbiddenf is a refusal of kind errForbidden.
func forbiddenf(format string, args ...any) error { return refusal(errForbidden, format, args...) }

// notFoundf is a refusal of kind errNotFound.
func notFoundf(format string, args ...any) error { return refusal(errNotFound, format, args...) }

// conflictf is a refusal of kind errConflict.
func conflictf(format string, args ...any) error { return refusal(errConflict, format, args...) }

// unavailablef is a refusal of kind errUnavailable.
func unavailablef(format string, args ...any) error { return refusal(errUnavailable, format, args...) }

// unsupportedf is a refusal of kind errUnsupported.
func unsupportedf(format string, args ...any) error { return refusal(errUnsupported, format, args...) }

// kindOf returns the kind of err's refusal (0 when err is not one).
func kindOf(err error) errKind {
	var ce *coreError
	if errors.As(err, &ce) {
		return ce.kind
	}
	return 0
}

// statusOfKind is the HTTP status code of each kind of refusal.
var statusOfKind = map[errKind]int{
	errInvalid:     http.StatusBadRequest,
	errForbidden:   http.StatusForbidden,
	errNotFound:    http.StatusNotFound,
	errConflict:    http.StatusConflict,
	errUnavailable: http.StatusServiceUnavailable,
	errUnsupported: http.StatusNotImplemented,
}

// httpError is the HTTP edge's view of err: a core refusal becomes an
// *httpapi.Error with its kind's status and its message; any other error
// is returned as it is.
func httpError(err error) error {
	var ce *coreError
	if err == nil || !errors.As(err, &ce) {
		return err
	}
	return &httpapi.Error{Status: statusOfKind[ce.kind], Message: ce.msg, Err: ce.cause}
}

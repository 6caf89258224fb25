package libprocess

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
)

// DefaultMaxBody bounds a message's body when Receiver.MaxBody is 0.
const DefaultMaxBody = 16 << 20

// Message is one libprocess message received.
type Message struct {
	// From is the sender, from Libprocess-From (or User-Agent).
	From UPID
	// Name is the message's type, e.g. "mesos.scheduler.Call".
	Name string
	// Body is the serialized message (empty for an empty message).
	Body []byte
}

// Receiver serves the messages sent to one libprocess process: POST
// /<ID>/<message name>. It answers each with 202 Accepted before handing
// it on, then calls the message's handler on the request's goroutine; a
// connection's messages are handled in the order they came. A message
// with no handler is answered 202 too (as libprocess does) and logged
// once per name.
type Receiver struct {
	// ID is the process id served ("master").
	ID string
	// Handlers maps a message name to its handler. Set before serving.
	Handlers map[string]func(Message)
	// MaxBody bounds a body in bytes; 0 is DefaultMaxBody. A larger one
	// is answered 413 and dropped.
	MaxBody int64
	// Log receives the receiver's warnings; nil discards them.
	Log *slog.Logger

	unknown sync.Map // message names already logged as unknown
}

// IsMessage reports whether r looks like a libprocess message: a POST
// naming a libprocess sender.
func IsMessage(r *http.Request) bool {
	return r.Method == http.MethodPost &&
		(r.Header.Get("Libprocess-From") != "" || strings.HasPrefix(r.UserAgent(), "libprocess/"))
}

// SenderOf returns the pid a request names as its sender.
func SenderOf(r *http.Request) (UPID, error) {
	from := r.Header.Get("Libprocess-From")
	if from == "" {
		var ok bool
		if from, ok = strings.CutPrefix(r.UserAgent(), "libprocess/"); !ok {
			return UPID{}, ErrNoSender
		}
	}
	return ParseUPID(from)
}

// ServeHTTP answers one message.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/"+rc.ID+"/")
	if !ok || rest == "" || strings.Contains(rest, "/") {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "libprocess messages are POSTs", http.StatusMethodNotAllowed)
		return
	}
	from, err := SenderOf(r)
	if err != nil {
		http.Error(w, fmt.Sprintf("libprocess message %s: %v", rest, err), http.StatusBadRequest)
		return
	}
	limit := rc.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			rc.logger().Warn("dropping an oversized libprocess message", "from", from.String(), "message", rest, "limit", limit)
			http.Error(w, fmt.Sprintf("libprocess message %s: body over %d bytes", rest, limit), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, fmt.Sprintf("libprocess message %s: read body: %v", rest, err), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	h := rc.Handlers[rest]
	if h == nil {
		if _, seen := rc.unknown.LoadOrStore(rest, true); !seen {
			rc.logger().Warn("dropping libprocess messages of an unknown type", "message", rest, "from", from.String())
		}
		return
	}
	h(Message{From: from, Name: rest, Body: body})
}

func (rc *Receiver) logger() *slog.Logger {
	if rc.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return rc.Log
}

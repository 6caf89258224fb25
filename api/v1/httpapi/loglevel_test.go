package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// levelRecorder is a slog handler that keeps the level of each record.
type levelRecorder struct {
	mu     sync.Mutex
	levels []slog.Level
}

func (h *levelRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.levels = append(h.levels, r.Level)
	return nil
}
func (h *levelRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *levelRecorder) WithGroup(string) slog.Handler      { return h }

// TestWrapLogsOnlyServerFaultsAtError: a request refused for the client's
// fault (4xx) or for a call not implemented (501) is logged below error
// (501 was logged at error); 503 at warn; server faults at error.
func TestWrapLogsOnlyServerFaultsAtError(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want slog.Level
	}{
		{"ok", nil, slog.LevelDebug},
		{"400", BadRequest("bad"), slog.LevelInfo},
		{"404", Errorf(http.StatusNotFound, "none"), slog.LevelInfo},
		{"413", &http.MaxBytesError{Limit: 1}, slog.LevelInfo},
		{"501", NotImplemented("Received 'UNKNOWN' call"), slog.LevelInfo},
		{"503", ServiceUnavailable("not the leader"), slog.LevelWarn},
		{"500", errors.New("disk on fire"), slog.LevelError},
		{"502", Errorf(http.StatusBadGateway, "upstream"), slog.LevelError},
	} {
		rec := &levelRecorder{}
		h := Wrap(slog.New(rec), func(w http.ResponseWriter, r *http.Request) error {
			if c.err == nil {
				w.WriteHeader(http.StatusOK)
			}
			return c.err
		})
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
		if len(rec.levels) != 1 || rec.levels[0] != c.want {
			t.Errorf("%s: logged at %v, want one line at %v", c.name, rec.levels, c.want)
		}
	}
}

package scheduler

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
)

// A master that answers SUBSCRIBE with status: Run with Reconnect gives
// up at a refusal (4xx) and keeps trying while the master is unavailable
// (5xx).
func TestReconnectStopsAtRefusal(t *testing.T) {
	for _, tc := range []struct {
		status    int
		wantStops bool
	}{
		{http.StatusForbidden, true},
		{http.StatusBadRequest, true},
		{http.StatusServiceUnavailable, false},
	} {
		var attempts atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			attempts.Add(1)
			http.Error(w, "no", tc.status)
		}))
		c := New(Config{Master: srv.URL, Reconnect: true,
			Framework: &mesos.FrameworkInfo{Name: proto.String("t"), Id: &mesos.FrameworkID{Value: proto.String("F1")}}})
		ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
		err := c.Run(ctx, func(context.Context, *schedpb.Event) error { return nil })
		cancel()
		srv.Close()
		var ce *CallError
		switch {
		case tc.wantStops && (!errors.As(err, &ce) || ce.Status != tc.status || attempts.Load() != 1):
			t.Errorf("status %d: Run = %v after %d attempts, want the refusal after 1", tc.status, err, attempts.Load())
		case !tc.wantStops && (!errors.Is(err, context.DeadlineExceeded) || attempts.Load() < 2):
			t.Errorf("status %d: Run = %v after %d attempts, want retries until the deadline", tc.status, err, attempts.Load())
		}
	}
}

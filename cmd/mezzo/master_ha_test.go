package main

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestHoldAgents: while the elected master recovers, agents' calls wait
// and are served by the leading handler once it is ready; other calls get
// the standby's answer at once.
func TestHoldAgents(t *testing.T) {
	standby := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	leading := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	var current atomic.Pointer[http.Handler]
	ready := make(chan struct{})
	h := holdAgents(standby, &current, ready)
	current.Store(&h)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/master/api/v1/scheduler", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("scheduler call while recovering: %d, want the standby's 503", rec.Code)
	}
	done := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/master/api/v1/agent", nil))
		done <- rec.Code
	}()
	select {
	case code := <-done:
		t.Fatalf("an agent's call was answered %d before the master was ready", code)
	case <-time.After(100 * time.Millisecond):
	}
	current.Store(&leading)
	close(ready)
	select {
	case code := <-done:
		if code != http.StatusOK {
			t.Fatalf("the held agent call got %d, want the leader's 200", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the held agent call was not served once the master was ready")
	}
}

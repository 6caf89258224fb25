package logging

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestVerbosityRaisesAndReverts(t *testing.T) {
	v := New(slog.LevelInfo)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: v.Level()}))
	log.Debug("hidden")
	if err := v.Set(1, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if v.Get() != 1 || !log.Enabled(context.Background(), slog.LevelDebug) {
		t.Fatalf("verbosity %d, debug enabled %v", v.Get(), log.Enabled(context.Background(), slog.LevelDebug))
	}
	log.Debug("shown")
	deadline := time.Now().Add(5 * time.Second)
	for v.Get() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if v.Get() != 0 || log.Enabled(context.Background(), slog.LevelDebug) {
		t.Fatalf("not reverted: verbosity %d", v.Get())
	}
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "shown") {
		t.Errorf("log %q", out)
	}
	var nilV *Verbosity
	if nilV.Get() != 0 || nilV.Set(1, time.Second) == nil {
		t.Error("a nil verbosity must read 0 and refuse changes")
	}
}

func TestToggleHandler(t *testing.T) {
	v := New(slog.LevelInfo)
	srv := httptest.NewServer(v.ToggleHandler())
	defer srv.Close()
	for query, want := range map[string]int{
		"":                          http.StatusOK,
		"?level=2":                  http.StatusBadRequest,
		"?duration=1secs":           http.StatusBadRequest,
		"?level=x&duration=1secs":   http.StatusBadRequest,
		"?level=2&duration=forever": http.StatusBadRequest,
		"?level=2&duration=-1secs":  http.StatusBadRequest,
		"?level=2&duration=10mins":  http.StatusOK,
	} {
		resp, err := http.Get(srv.URL + query)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%q: %d, want %d", query, resp.StatusCode, want)
		}
	}
	if v.Get() != 2 {
		t.Errorf("verbosity %d after the toggle", v.Get())
	}
	v.Set(0, 0)
}

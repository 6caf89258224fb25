package zktest

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func TestEnsembleServesAndSurvivesOneServer(t *testing.T) {
	e := Start(t, 3)
	if got := len(e.Servers()); got != 3 {
		t.Fatalf("Servers() has %d entries, want 3", got)
	}
	if got := e.Connect(); strings.Count(got, ",") != 2 || !strings.HasPrefix(got, "127.0.0.1:") {
		t.Fatalf("Connect() = %q", got)
	}
	e.Stop(0)
	if _, err := fourLetter(e.Servers()[0], "srvr"); err == nil {
		t.Fatalf("server 0 still answers after Stop")
	}
	// The other two still form a quorum.
	for _, addr := range e.Servers()[1:] {
		out, err := fourLetter(addr, "srvr")
		if err != nil || !strings.Contains(out, "Mode: ") {
			t.Fatalf("%s after stopping server 0: %q, %v", addr, out, err)
		}
	}
	e.Restart(0)
	out, err := fourLetter(e.Servers()[0], "srvr")
	if err != nil || !strings.Contains(out, "Mode: follower") && !strings.Contains(out, "Mode: leader") {
		t.Fatalf("server 0 after Restart: %q, %v", out, err)
	}
}

// recorder stands in for a test to catch Start's Fatalf and Skipf.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Skipf(format string, args ...any) {
	r.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func startRecorded(t *testing.T) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(r, 1)
	}()
	<-done
	return r
}

func TestMissingJavaFailsUnlessSkipped(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("MEZZO_SKIP_ZOOKEEPER", "")
	r := startRecorded(t)
	if !strings.Contains(r.fatal, "missing java") || r.skip != "" {
		t.Errorf("without java: fatal %q, skip %q", r.fatal, r.skip)
	}
	t.Setenv("MEZZO_SKIP_ZOOKEEPER", "1")
	r = startRecorded(t)
	if !strings.Contains(r.skip, "missing java") || r.fatal != "" {
		t.Errorf("without java, MEZZO_SKIP_ZOOKEEPER=1: fatal %q, skip %q", r.fatal, r.skip)
	}
}

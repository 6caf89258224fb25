package zktest

import (
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

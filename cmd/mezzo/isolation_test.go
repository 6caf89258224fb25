package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The launch helper starts before the binary's heavy packages (the
// protobuf API's registrations) are initialized: each launch of an
// isolated task pays for it.
func TestLaunchHelperRunsBeforeTheAPIPackages(t *testing.T) {
	cmd := exec.Command(os.Args[0], "launch")
	cmd.Env = []string{"MEZZO_LAUNCH_HELPER=1", "GODEBUG=inittrace=1"}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the helper ran without its pipes:\n%s", out)
	}
	if !strings.Contains(string(out), "mezzo launch: fd") {
		t.Fatalf("the helper did not run:\n%s", out)
	}
	if strings.Contains(string(out), "init github.com/mezzo-project/mezzo/api/v1/mesos ") {
		t.Errorf("the API packages were initialized before the helper ran:\n%s", out)
	}
}

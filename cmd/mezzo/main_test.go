package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mezzo-project/mezzo/internal/version"
)

func TestVersion(t *testing.T) {
	// `mezzo version`, and Mesos' --version on the daemons.
	for _, args := range [][]string{{"version"}, {"master", "--version"}, {"agent", "--version"}, {"local", "--version"}} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
		for _, want := range []string{"mezzo " + version.Version, "Mesos API v1", version.MesosVersion} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%v: output %q lacks %q", args, out.String(), want)
			}
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"frobnicate"}, &out, &errOut); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), `unknown command "frobnicate"`) {
		t.Errorf("stderr %q does not name the command", errOut.String())
	}
}

func TestHelpListsCommands(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"help"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out.String(), "version") {
		t.Errorf("help output %q lacks the version command", out.String())
	}
}

// TestEveryCommandHasHelp runs each subcommand's --help: it builds every
// flag set (a flag defined twice panics there) and must exit 0.
func TestEveryCommandHasHelp(t *testing.T) {
	for name := range commands {
		var out, errOut bytes.Buffer
		if code := run([]string{name, "--help"}, &out, &errOut); code != 0 {
			t.Errorf("%s --help: exit %d: %s", name, code, errOut.String())
		}
	}
}

package containerizer

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/provisioner"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// TestLaunchCommand checks the merge of a CommandInfo with an image's
// Entrypoint and Cmd against the table of Mesos' docker/runtime
// isolator (getLaunchCommand).
func TestLaunchCommand(t *testing.T) {
	ep := []string{"/ep", "ep1"}
	cmd := []string{"/cmd", "cmd1"}
	noShell := func(value *string, args ...string) *mesos.CommandInfo {
		return &mesos.CommandInfo{Shell: proto.Bool(false), Value: value, Arguments: args}
	}
	for _, c := range []struct {
		name       string
		command    *mesos.CommandInfo
		entrypoint []string
		cmd        []string
		// want: "" keeps the command; otherwise value then arguments,
		// space separated; err: a substring of the error.
		want, err string
	}{
		{name: "no value, no image command", command: noShell(nil), err: "no executable"},
		{name: "cmd only", command: noShell(nil), cmd: cmd, want: "/cmd /cmd cmd1"},
		{name: "entrypoint only", command: noShell(nil), entrypoint: ep, want: "/ep /ep ep1"},
		{name: "entrypoint and cmd", command: noShell(nil), entrypoint: ep, cmd: cmd, want: "/ep /ep ep1 /cmd cmd1"},
		{name: "cmd, arguments", command: noShell(nil, "a", "b"), cmd: cmd, want: "/cmd /cmd a b"},
		{name: "entrypoint, arguments", command: noShell(nil, "a"), entrypoint: ep, want: "/ep /ep ep1 a"},
		{name: "entrypoint and cmd, arguments", command: noShell(nil, "a"), entrypoint: ep, cmd: cmd, want: "/ep /ep ep1 a"},
		{name: "value", command: noShell(proto.String("/v")), entrypoint: ep, cmd: cmd},
		{name: "value, arguments", command: noShell(proto.String("/v"), "/v", "a"), entrypoint: ep, cmd: cmd},
		{name: "shell without value", command: &mesos.CommandInfo{}, entrypoint: ep, err: "shell specified but no command value"},
		{name: "shell", command: &mesos.CommandInfo{Value: proto.String("echo hi")}, entrypoint: ep, cmd: cmd},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := LaunchCommand(c.command, v1.Config{Entrypoint: c.entrypoint, Cmd: c.cmd})
			switch {
			case c.err != "":
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
			case err != nil:
				t.Fatal(err)
			case c.want == "" && got != nil:
				t.Fatalf("changed the command to %v", got)
			case c.want != "":
				if got == nil {
					t.Fatalf("kept the command, want %q", c.want)
				}
				if s := strings.Join(append([]string{got.GetValue()}, got.GetArguments()...), " "); s != c.want {
					t.Fatalf("got %q, want %q", s, c.want)
				}
				if got.GetShell() {
					t.Fatal("shell set")
				}
			}
		})
	}
}

// TestImageUser resolves image users against the image's /etc/passwd
// and /etc/group, looking through the overlay's layers top first.
func TestImageUser(t *testing.T) {
	top, base := t.TempDir(), t.TempDir()
	write := func(dir, rel, body string) {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(base, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nold:x:5:5::/old:/bin/sh\n")
	write(top, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:App:/home/app:/bin/sh\n")
	write(base, "etc/group", "root:x:0:\napp:x:1001:\nstaff:x:50:app,other\nops:x:60:\n")
	r := &provisioner.Rootfs{Backend: provisioner.BackendOverlay, Lower: []string{top, base}}
	for spec, want := range map[string]string{
		"app":       "app 1000 1001 [50] /home/app",
		"1000":      "app 1000 1001 [50] /home/app",
		"app:ops":   "app 1000 60 [50] /home/app",
		"app:7":     "app 1000 7 [50] /home/app",
		"4242":      "4242 4242 0 [] /",
		"old":       "error",
		"app:nogrp": "error",
		"nobody":    "error",
	} {
		u, err := imageUser(r, spec)
		got := "error"
		if err == nil {
			got = strings.TrimSpace(strings.Join([]string{u.Name, itoa(u.UID), itoa(u.GID), groups(u.Groups), u.Home}, " "))
		}
		if got != want {
			t.Errorf("%s: got %q (%v), want %q", spec, got, err, want)
		}
	}
	// A whiteout in the top layer deletes the base's file.
	if os.Geteuid() == 0 {
		os.Remove(filepath.Join(top, "etc/passwd"))
		if err := unix.Mknod(filepath.Join(top, "etc/passwd"), unix.S_IFCHR, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := imageUser(r, "old"); err == nil {
			t.Error("a user of a deleted /etc/passwd was found")
		}
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

func groups(gs []uint32) string {
	var s []string
	for _, g := range gs {
		s = append(s, itoa(g))
	}
	return "[" + strings.Join(s, " ") + "]"
}

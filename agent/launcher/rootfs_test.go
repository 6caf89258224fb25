package launcher

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRootfsRefusals starts processes into a root file system whose setup
// must fail, each with an error naming the problem, and checks that
// nothing stays mounted on the host: the helper mounts only in the
// container's mount namespace.
func TestRootfsRefusals(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	sandbox := t.TempDir()
	// An image whose /etc is a link to the host's.
	if err := os.Symlink("/etc", filepath.Join(root, "etc")); err != nil {
		t.Fatal(err)
	}
	host := t.TempDir()
	for _, c := range []struct {
		name   string
		mounts []Mount
		want   string
	}{
		{"outside", []Mount{{Source: host, Target: "/opt/elsewhere"}}, "outside the container's rootfs"},
		{"link", []Mount{{Source: host, Target: root + "/etc/mezzo-test"}}, `symbolic link "/etc"`},
		{"no shell", nil, "/bin/sh"},
	} {
		t.Run(c.name, func(t *testing.T) {
			iso := Isolation{Namespaces: unix.CLONE_NEWNS, Mounts: c.mounts, Rootfs: &Rootfs{Dir: root, Sandbox: sandbox}}
			_, err := startIsolated(t, sandbox, "true", iso, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
			if _, err := os.Stat("/opt/elsewhere"); err == nil {
				t.Error("a mount point was made on the host outside the rootfs")
			}
			if _, err := os.Stat("/etc/mezzo-test"); err == nil {
				t.Error("a mount point was made on the host through the image's link")
			}
			b, _ := os.ReadFile("/proc/self/mountinfo")
			if strings.Contains(string(b), root) {
				t.Errorf("a mount under the rootfs is left on the host:\n%s", b)
			}
		})
	}
	// A rootfs needs a mount namespace.
	_, err := startIsolated(t, sandbox, "true", Isolation{Rootfs: &Rootfs{Dir: root, Sandbox: sandbox}}, nil)
	if err == nil || !strings.Contains(err.Error(), "mount namespace") {
		t.Errorf("rootfs without CLONE_NEWNS: %v", err)
	}
}

package agent

import (
	"strings"
	"testing"

	"github.com/mezzo-project/mezzo/agent/containerizer"
)

func TestImageConfigValidate(t *testing.T) {
	full, err := containerizer.ParseIsolation("filesystem/linux,docker/runtime")
	if err != nil {
		t.Fatal(err)
	}
	bare, err := containerizer.ParseIsolation("posix/cpu")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cfg  ImageConfig
		iso  containerizer.Isolation
		want string // "" for valid
	}{
		{name: "docker", cfg: ImageConfig{ImageProviders: "docker"}, iso: full},
		{name: "none", cfg: ImageConfig{}, iso: bare},
		{name: "appc", cfg: ImageConfig{ImageProviders: "appc,docker"}, iso: full, want: "APPC images are not supported"},
		{name: "unknown", cfg: ImageConfig{ImageProviders: "oci"}, iso: full, want: `unknown image provider "oci"`},
		{name: "isolators", cfg: ImageConfig{ImageProviders: "docker"}, iso: bare, want: "needs the filesystem/linux isolator"},
		{name: "backend", cfg: ImageConfig{ImageProviders: "docker", ImageProvisionerBackend: "aufs"}, iso: full, want: "--image_provisioner_backend=aufs is not supported"},
		{name: "gc", cfg: ImageConfig{ImageProviders: "docker", ImageGCConfig: `{"image_disk_headroom":0.1}`}, iso: full, want: "image_disk_watch_interval"},
		{name: "store", cfg: ImageConfig{ImageProviders: "docker", DockerStoreDir: "relative"}, iso: full, want: "must be an absolute path"},
	} {
		t.Run(c.name, func(t *testing.T) {
			errs := c.cfg.validate(c.iso, "the isolation")
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			got := strings.Join(msgs, "; ")
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Fatalf("errors %q, want %q", got, c.want)
			}
			if c.want == "" && c.cfg.DockerRegistry == "" {
				t.Error("no default --docker_registry")
			}
		})
	}
}

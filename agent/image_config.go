package agent

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mezzo-project/mezzo/agent/containerizer"
	"github.com/mezzo-project/mezzo/agent/provisioner"
)

// ImageConfig holds the flags of container images (Mesos' provisioner),
// under Mesos' names; the agent's Config embeds it.
type ImageConfig struct {
	// ImageProviders is Mesos' --image_providers: "docker" lets
	// containers of type MESOS give an image (ContainerInfo.mesos.image);
	// empty refuses them. It needs the filesystem/linux and
	// docker/runtime isolators. APPC images are not supported.
	ImageProviders string
	// DockerRegistry is Mesos' --docker_registry (default
	// https://registry-1.docker.io): a directory of `docker save`
	// archives named <image>.tar (or OCI image layouts), or a registry
	// URL (see provisioner.StoreConfig.Registry).
	DockerRegistry string
	// DockerStoreDir is Mesos' --docker_store_dir (default
	// /tmp/mesos/store/docker): where image layers are unpacked, once
	// each, and kept across restarts.
	DockerStoreDir string
	// ImageProvisionerBackend is Mesos' --image_provisioner_backend:
	// overlay (the default where the kernel has overlayfs) or copy.
	ImageProvisionerBackend string
	// ImageGCConfig is Mesos' --image_gc_config: JSON (or a path to it)
	// turning on automatic image garbage collection
	// (provisioner.ParseGCConfig); empty for none.
	ImageGCConfig string

	// Parsed by validate.
	imageGC *provisioner.GCConfig
	images  bool // --image_providers=docker
}

// defaultImageConfig is Mesos' defaults.
func defaultImageConfig() ImageConfig {
	return ImageConfig{DockerRegistry: provisioner.DefaultRegistry, DockerStoreDir: provisioner.DefaultStoreDir}
}

// addFlags binds c's fields under Mesos' flag names.
func (c *ImageConfig) addFlags(fs *flag.FlagSet) {
	d := *c
	fs.StringVar(&c.ImageProviders, "image_providers", d.ImageProviders, "Container image providers: docker (needs --isolation with filesystem/linux and docker/runtime); empty refuses images.")
	fs.StringVar(&c.DockerRegistry, "docker_registry", d.DockerRegistry, "Where Docker images come from: a directory of `docker save` archives named <image>.tar (or OCI image layouts), or a registry URL (http:// or https://).")
	fs.StringVar(&c.DockerStoreDir, "docker_store_dir", d.DockerStoreDir, "Directory where image layers are unpacked, once each, and kept.")
	fs.StringVar(&c.ImageProvisionerBackend, "image_provisioner_backend", d.ImageProvisionerBackend, "How containers' root file systems are made from images: overlay or copy (default: overlay when the kernel has it).")
	fs.StringVar(&c.ImageGCConfig, "image_gc_config", d.ImageGCConfig, `Automatic image garbage collection, as JSON (or a path to it): {"image_disk_headroom":0.1,"image_disk_watch_interval":{"nanoseconds":3600000000000},"excluded_images":[{"type":"DOCKER","docker":{"name":"busybox"}}]}.`)
}

// validate checks c against the isolation it must come with.
func (c *ImageConfig) validate(iso containerizer.Isolation, isolation string) []error {
	def := defaultImageConfig()
	var errs []error
	if c.DockerRegistry == "" {
		c.DockerRegistry = def.DockerRegistry
	}
	if c.DockerStoreDir == "" {
		c.DockerStoreDir = def.DockerStoreDir
	}
	if !filepath.IsAbs(c.DockerStoreDir) {
		errs = append(errs, fmt.Errorf("--docker_store_dir=%s: must be an absolute path", c.DockerStoreDir))
	}
	c.images = false
	for _, p := range strings.Split(c.ImageProviders, ",") {
		switch strings.ToLower(strings.TrimSpace(p)) {
		case "":
		case "docker":
			c.images = true
		case "appc":
			errs = append(errs, fmt.Errorf("--image_providers=%s: APPC images are not supported (only docker)", c.ImageProviders))
		default:
			errs = append(errs, fmt.Errorf("--image_providers=%s: unknown image provider %q (supported: docker)", c.ImageProviders, p))
		}
	}
	if c.images {
		for _, need := range []string{"filesystem/linux", containerizer.DockerRuntimeName} {
			if !iso.Has(need) {
				errs = append(errs, fmt.Errorf("--image_providers=docker needs the %s isolator (--isolation=%s)", need, isolation))
			}
		}
	}
	switch c.ImageProvisionerBackend {
	case "", provisioner.BackendOverlay, provisioner.BackendCopy:
	default:
		errs = append(errs, fmt.Errorf("--image_provisioner_backend=%s is not supported (supported: overlay, copy)", c.ImageProvisionerBackend))
	}
	gc, err := provisioner.ParseGCConfig(c.ImageGCConfig)
	if err != nil {
		errs = append(errs, err)
	}
	c.imageGC = gc
	return errs
}

// newProvisioner builds the image store and provisioner of
// --image_providers=docker (nil without it) and starts its automatic
// garbage collection, which ends when the agent detaches.
func (a *Agent) newProvisioner() (*provisioner.Provisioner, error) {
	c := a.cfg.ImageConfig
	if !c.images {
		return nil, nil
	}
	log := a.log.With("component", "provisioner")
	store, err := provisioner.NewStore(provisioner.StoreConfig{Dir: c.DockerStoreDir, Registry: c.DockerRegistry, Log: log})
	if err != nil {
		return nil, err
	}
	p, err := provisioner.New(provisioner.Config{
		Dir:     filepath.Join(a.cfg.WorkDir, "provisioner"),
		Backend: c.ImageProvisionerBackend,
		Store:   store,
		GC:      c.imageGC,
		Log:     log,
	})
	if err != nil {
		return nil, err
	}
	go p.Run(a.detachCtx)
	return p, nil
}

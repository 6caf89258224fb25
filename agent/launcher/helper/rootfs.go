package helper

import (
	"errors"
	"os"
	"strconv"
	"syscall"
)

// mountRootfs mounts the container's root file system and what every
// container sees in it (sandbox, /proc, /dev, /sys), in the helper's
// mount namespace, before Request.Mounts are made under it.
func mountRootfs(r *Rootfs) error {
	if r.Dir == "" || r.Dir[0] != '/' {
		return errorf("rootfs %q is not an absolute path", r.Dir)
	}
	if r.Overlay != "" {
		if err := syscall.Mount("overlay", r.Dir, "overlay", 0, r.Overlay); err != nil {
			return errorf("mount the container's rootfs (overlay) on %s: %w", r.Dir, err)
		}
	} else if err := syscall.Mount(r.Dir, r.Dir, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		// pivot_root needs the new root to be a mount point.
		return errorf("bind mount the container's rootfs %s: %w", r.Dir, err)
	}
	if err := mountOne(Mount{Source: r.Sandbox, Target: r.Dir + SandboxMountPoint}); err != nil {
		return errorf("mount the sandbox in the rootfs: %w", err)
	}
	if err := mountOne(Mount{Source: "proc", Target: r.Dir + "/proc", Type: "proc"}); err != nil {
		return err
	}
	if err := mountOne(Mount{Source: "sysfs", Target: r.Dir + "/sys", Type: "sysfs", ReadOnly: true}); err != nil {
		// Without a network namespace of its own, a fresh sysfs may be
		// refused: the host's, read-only, instead.
		if err := mountOne(Mount{Source: "/sys", Target: r.Dir + "/sys", ReadOnly: true}); err != nil {
			return err
		}
	}
	return mountDev(r.Dir + "/dev")
}

// devices are the device files a container's /dev gets from the host's.
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// mountDev makes a minimal /dev at dev: a tmpfs with the host's basic
// device files bound in, the standard links, a private devpts and a
// /dev/shm.
func mountDev(dev string) error {
	if err := mountOne(Mount{Source: "tmpfs", Target: dev, Type: "tmpfs", Data: "mode=755,size=65536k"}); err != nil {
		return err
	}
	for _, d := range devices {
		if err := mountOne(Mount{Source: "/dev/" + d, Target: dev + "/" + d}); err != nil {
			return err
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"} {
		if err := os.Symlink(target, dev+"/"+name); err != nil {
			return errorf("make %s/%s: %w", dev, name, err)
		}
	}
	if err := os.Mkdir(dev+"/pts", 0o755); err != nil {
		return err
	}
	if err := syscall.Mount("devpts", dev+"/pts", "devpts", syscall.MS_NOSUID|syscall.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return errorf("mount devpts on %s/pts: %w", dev, err)
	}
	return mountOne(Mount{Source: "tmpfs", Target: dev + "/shm", Type: "tmpfs", Data: "mode=1777"})
}

// insideRoot checks that p, a mount target under the rootfs, resolves
// inside it: a symbolic link of the image must not take a mount onto
// the host.
func insideRoot(root, p string) error {
	if !hasPrefix(p, root+"/") {
		return errorf("mount target %q is outside the container's rootfs %s", p, root)
	}
	cur := root
	rest := trimPrefix(p, root)
	for _, c := range split(rest, '/') {
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			return errorf("mount target %q leaves the container's rootfs", p)
		}
		cur += "/" + c
		st, err := os.Lstat(cur)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if st.Mode()&os.ModeSymlink != 0 {
			return errorf("mount target %q goes through the image's symbolic link %q", trimPrefix(p, root), trimPrefix(cur, root))
		}
	}
	return nil
}

// openHostExecutable opens path before the helper leaves the host's file
// system, and returns the path that executes it from inside the root.
func openHostExecutable(path string) (string, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", errorf("open the executor %s: %w", path, err)
	}
	return "/proc/self/fd/" + strconv.Itoa(fd), nil
}

// pivotRoot makes dir the root of the helper's mount namespace and
// detaches the old root.
func pivotRoot(dir string) error {
	if err := syscall.Chdir(dir); err != nil {
		return errorf("enter the container's rootfs: %w", err)
	}
	// The old root is stacked on the new one and detached from it: no
	// directory for it is needed in the image.
	if err := syscall.PivotRoot(".", "."); err != nil {
		return errorf("pivot_root into the container's rootfs %s: %w", dir, err)
	}
	if err := syscall.Mount("", ".", "", syscall.MS_SLAVE|syscall.MS_REC, ""); err != nil {
		return errorf("make the old root a slave: %w", err)
	}
	if err := syscall.Unmount(".", syscall.MNT_DETACH); err != nil {
		return errorf("detach the host's root: %w", err)
	}
	if err := syscall.Chdir("/"); err != nil {
		return errorf("enter the container's rootfs: %w", err)
	}
	return nil
}

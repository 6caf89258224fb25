// Command package builds Mezzo's Debian package with nfpm: the binary,
// the systemd units, the default configuration and the cluster scripts,
// as nfpm.yaml beside it lists them. `make package` runs it:
//
//	go run . --root=../.. --binary=bin/mezzo --version=0.1.0 --out=bin/
//
// Paths are relative to --root, the repository's root. It lives in a
// module of its own so that the packager's dependencies stay out of the
// binary's.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the "deb" packager
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "package: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("package", flag.ContinueOnError)
	root := fs.String("root", ".", "The repository's root; the other paths are relative to it.")
	binary := fs.String("binary", "bin/mezzo", "The mezzo binary to package (static: CGO_ENABLED=0).")
	version := fs.String("version", "", "The package's version (Debian syntax, e.g. 0.1.0). Required.")
	arch := fs.String("arch", runtime.GOARCH, "The package's architecture (Go's name: amd64, arm64).")
	out := fs.String("out", "bin", "Directory the .deb is written to.")
	config := fs.String("config", "deploy/package/nfpm.yaml", "The nfpm configuration.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version == "" {
		return fmt.Errorf("--version is required")
	}
	if err := os.Chdir(*root); err != nil {
		return fmt.Errorf("--root: %w", err)
	}
	if _, err := os.Stat(*binary); err != nil {
		return fmt.Errorf("--binary: %w (make build makes it)", err)
	}
	vars := map[string]string{"VERSION": *version, "ARCH": *arch, "BINARY": *binary}
	cfg, err := nfpm.ParseFileWithEnvMapping(*config, func(k string) string { return vars[k] })
	if err != nil {
		return fmt.Errorf("reading %s: %w", *config, err)
	}
	info, err := cfg.Get("deb")
	if err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	pkg, err := nfpm.Get("deb")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	path := filepath.Join(*out, pkg.ConventionalFileName(info))
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating the package: %w", err)
	}
	if err := pkg.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("building %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fmt.Println(path)
	return nil
}

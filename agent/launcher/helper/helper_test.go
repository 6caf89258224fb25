package helper

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tool")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := LookPath("tool", "/nonexistent:"+dir+"/"); err != nil || got != exe {
		t.Errorf("LookPath(tool) = %q, %v; want %q", got, err, exe)
	}
	if _, err := LookPath("data", dir); !errors.Is(err, ErrNotFound) {
		t.Errorf("LookPath(data), not executable: %v, want ErrNotFound", err)
	}
	for in, want := range map[string]string{"/a/b/c": "/a/b", "/a/b/": "/a", "/a": "/", "/": "/"} {
		if got := parentDir(in); got != want {
			t.Errorf("parentDir(%q) = %q, want %q", in, got, want)
		}
	}
}

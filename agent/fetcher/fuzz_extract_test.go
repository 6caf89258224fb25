package fetcher

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tarOf builds a tar archive of entries: "name" is a file, "name/" a
// directory, "name->target" a symlink, "name=>target" a hard link.
func tarOf(entries ...string) []byte {
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e, Mode: 0o644, Typeflag: tar.TypeReg, Size: 2}
		switch {
		case strings.Contains(e, "->"):
			name, target, _ := strings.Cut(e, "->")
			h = &tar.Header{Name: name, Linkname: target, Typeflag: tar.TypeSymlink, Mode: 0o777}
		case strings.Contains(e, "=>"):
			name, target, _ := strings.Cut(e, "=>")
			h = &tar.Header{Name: name, Linkname: target, Typeflag: tar.TypeLink, Mode: 0o644}
		case strings.HasSuffix(e, "/"):
			h = &tar.Header{Name: e, Typeflag: tar.TypeDir, Mode: 0o755}
		}
		w.WriteHeader(h)
		if h.Typeflag == tar.TypeReg {
			w.Write([]byte("x\n"))
		}
	}
	w.Close()
	return b.Bytes()
}

func zipOf(names ...string) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, n := range names {
		f, _ := w.Create(n)
		if f != nil {
			f.Write([]byte("x\n"))
		}
	}
	w.Close()
	return b.Bytes()
}

// confined checks that extracting into base/sandbox left nothing beside
// the sandbox and no symlink in it that points outside.
func confined(t *testing.T, base, sandbox string) {
	t.Helper()
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "sandbox" && e.Name() != "archive.zip" {
			t.Fatalf("extraction wrote %q outside the sandbox", e.Name())
		}
	}
	filepath.WalkDir(sandbox, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.Type()&os.ModeSymlink == 0 {
			return nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return nil
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		if target != sandbox && !strings.HasPrefix(filepath.Clean(target), sandbox+"/") {
			t.Fatalf("extraction left %s pointing outside the sandbox at %s", p, target)
		}
		return nil
	})
}

// FuzzExtractTar: no tar archive writes outside the sandbox or leaves a
// symlink out of it; malformed ones fail with an error.
func FuzzExtractTar(f *testing.F) {
	f.Add(tarOf("a", "d/", "d/b"))
	f.Add(tarOf("../escape", "a"))
	f.Add(tarOf("l->/etc", "l/passwd"))
	f.Add(tarOf("l->..", "l/escape"))
	f.Add(tarOf("d/", "d/l->../../x", "h=>../x"))
	f.Add(tarOf("/abs", "./ok", "d/../../x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		sandbox := filepath.Join(base, "sandbox")
		if err := os.Mkdir(sandbox, 0o755); err != nil {
			t.Fatal(err)
		}
		u := &undo{}
		if extractTar(bytes.NewReader(data), sandbox, u) != nil {
			u.revert()
		}
		confined(t, base, sandbox)
	})
}

// FuzzExtractZip is FuzzExtractTar for zip archives.
func FuzzExtractZip(f *testing.F) {
	f.Add(zipOf("a", "d/", "d/b"))
	f.Add(zipOf("../escape", "/abs", "d/../../x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		sandbox := filepath.Join(base, "sandbox")
		if err := os.Mkdir(sandbox, 0o755); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(base, "archive.zip")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		u := &undo{}
		if extractZip(file, sandbox, u) != nil {
			u.revert()
		}
		confined(t, base, sandbox)
	})
}

package fetcher

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

func uri(value string) *mesos.CommandInfo_URI {
	return &mesos.CommandInfo_URI{Value: proto.String(value)}
}

type tarEntry struct {
	name, body, link string
	dir              bool
}

func tarBytes(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		switch {
		case e.dir:
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		case e.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func compressWith(t *testing.T, tool string, b []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s is needed for this test (Debian package %s): %v", tool, map[string]string{"xz": "xz-utils", "bzip2": "bzip2"}[tool], err)
	}
	cmd := exec.Command(tool, "-c")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func zipBytes(t *testing.T, entries []tarEntry) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e.body))
	}
	zw.Close()
	return buf.Bytes()
}

func write(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFetchKinds(t *testing.T) {
	src := t.TempDir()
	files := tarBytes(t, []tarEntry{{name: "pkg/", dir: true}, {name: "pkg/a.txt", body: "A"}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/dl/script.sh":
			w.Write([]byte("#!/bin/sh\necho hi\n"))
		case "/dl/bundle.tgz":
			w.Write(gz(t, files))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	plain := write(t, src, "plain.txt", []byte("plain"))
	tarGz := write(t, src, "b.tar.gz", gz(t, files))
	tarBz2 := write(t, src, "c.tar.bz2", compressWith(t, "bzip2", files))
	tarXz := write(t, src, "d.tar.xz", compressWith(t, "xz", files))
	tarPlain := write(t, src, "e.tar", files)
	zipFile := write(t, src, "f.zip", zipBytes(t, []tarEntry{{name: "z/one.txt", body: "one"}}))
	gzFile := write(t, src, "g.txt.gz", gz(t, []byte("gunzipped")))

	cases := []struct {
		name  string
		uri   *mesos.CommandInfo_URI
		check func(t *testing.T, sb string)
	}{
		{"absolute path", uri(plain), func(t *testing.T, sb string) {
			if got := readFile(t, filepath.Join(sb, "plain.txt")); got != "plain" {
				t.Fatalf("got %q", got)
			}
		}},
		{"file url", uri("file://" + plain), func(t *testing.T, sb string) { readFile(t, filepath.Join(sb, "plain.txt")) }},
		{"http executable", &mesos.CommandInfo_URI{Value: proto.String(srv.URL + "/dl/script.sh"), Executable: proto.Bool(true)}, func(t *testing.T, sb string) {
			st, err := os.Stat(filepath.Join(sb, "script.sh"))
			if err != nil || st.Mode().Perm()&0o111 == 0 {
				t.Fatalf("not executable: %v %v", st, err)
			}
		}},
		{"http tgz extracted", uri(srv.URL + "/dl/bundle.tgz"), func(t *testing.T, sb string) {
			readFile(t, filepath.Join(sb, "pkg", "a.txt"))
			readFile(t, filepath.Join(sb, "bundle.tgz")) // the archive stays
		}},
		{"tar.gz", uri(tarGz), func(t *testing.T, sb string) { readFile(t, filepath.Join(sb, "pkg", "a.txt")) }},
		{"tar.bz2", uri(tarBz2), func(t *testing.T, sb string) { readFile(t, filepath.Join(sb, "pkg", "a.txt")) }},
		{"tar.xz", uri(tarXz), func(t *testing.T, sb string) { readFile(t, filepath.Join(sb, "pkg", "a.txt")) }},
		{"tar", uri(tarPlain), func(t *testing.T, sb string) { readFile(t, filepath.Join(sb, "pkg", "a.txt")) }},
		{"zip", uri(zipFile), func(t *testing.T, sb string) {
			if got := readFile(t, filepath.Join(sb, "z", "one.txt")); got != "one" {
				t.Fatalf("got %q", got)
			}
		}},
		{"gz", uri(gzFile), func(t *testing.T, sb string) {
			if got := readFile(t, filepath.Join(sb, "g.txt")); got != "gunzipped" {
				t.Fatalf("got %q", got)
			}
		}},
		{"extract false", &mesos.CommandInfo_URI{Value: proto.String(tarGz), Extract: proto.Bool(false)}, func(t *testing.T, sb string) {
			if _, err := os.Stat(filepath.Join(sb, "pkg")); err == nil {
				t.Fatal("extracted although extract=false")
			}
		}},
		{"executable skips extract", &mesos.CommandInfo_URI{Value: proto.String(tarGz), Executable: proto.Bool(true)}, func(t *testing.T, sb string) {
			if _, err := os.Stat(filepath.Join(sb, "pkg")); err == nil {
				t.Fatal("extracted although executable")
			}
		}},
		{"output_file", &mesos.CommandInfo_URI{Value: proto.String(plain), OutputFile: proto.String("sub/renamed.txt")}, func(t *testing.T, sb string) {
			readFile(t, filepath.Join(sb, "sub", "renamed.txt"))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sb := t.TempDir()
			if err := (&Fetcher{}).Fetch(context.Background(), []*mesos.CommandInfo_URI{tc.uri}, sb, ""); err != nil {
				t.Fatal(err)
			}
			tc.check(t, sb)
		})
	}
}

func TestFetchErrors(t *testing.T) {
	src := t.TempDir()
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	outside := t.TempDir()
	plain := write(t, src, "plain.txt", []byte("x"))
	cases := []struct {
		name   string
		uri    *mesos.CommandInfo_URI
		escape bool
		want   string
	}{
		{"http 404", uri(srv.URL + "/missing.txt"), false, "404"},
		{"missing file", uri(filepath.Join(src, "nope")), false, "no such file"},
		{"unsupported scheme", uri("ftp://example/x"), false, "unsupported URI scheme"},
		{"relative path", uri("relative/x"), false, "unsupported"},
		{"output_file escapes", &mesos.CommandInfo_URI{Value: proto.String(plain), OutputFile: proto.String("../x")}, true, ""},
		{"output_file absolute", &mesos.CommandInfo_URI{Value: proto.String(plain), OutputFile: proto.String(filepath.Join(outside, "x"))}, true, ""},
		{"tar dotdot", uri(write(t, src, "dd.tar", tarBytes(t, []tarEntry{{name: "../evil.txt", body: "x"}}))), true, ""},
		{"tar absolute", uri(write(t, src, "abs.tar", tarBytes(t, []tarEntry{{name: filepath.Join(outside, "evil.txt"), body: "x"}}))), true, ""},
		{"tar symlink out", uri(write(t, src, "ln.tar", tarBytes(t, []tarEntry{{name: "l", link: outside}, {name: "l/evil.txt", body: "x"}}))), true, ""},
		{"tar relative symlink out", uri(write(t, src, "ln2.tar", tarBytes(t, []tarEntry{{name: "l", link: "../../.."}}))), true, ""},
		{"zip dotdot", uri(write(t, src, "dd.zip", zipBytes(t, []tarEntry{{name: "../evil.txt", body: "x"}}))), true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sb := t.TempDir()
			err := (&Fetcher{}).Fetch(context.Background(), []*mesos.CommandInfo_URI{tc.uri}, sb, "")
			if err == nil {
				t.Fatal("fetch succeeded")
			}
			if !strings.Contains(err.Error(), tc.uri.GetValue()) {
				t.Errorf("error %q does not name the URI", err)
			}
			if tc.escape && !errors.Is(err, ErrEscape) {
				t.Errorf("error %q is not ErrEscape", err)
			}
			if tc.want != "" && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(outside, "evil.txt")); err == nil {
				t.Fatal("a file was written outside the sandbox")
			}
		})
	}
}

// An agent running as root copies a local file into a sandbox only when
// the container's user could read it, as mesos-fetcher, which switches
// to that user, can.
func TestLocalFileReadableByUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: fetching for another user")
	}
	if _, err := user.Lookup("nobody"); err != nil {
		t.Fatalf("the user nobody is needed for this test: %v", err)
	}
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	open := write(t, dir, "open.txt", []byte("open"))
	secret := write(t, dir, "secret.txt", []byte("secret"))
	os.Chmod(secret, 0o600)
	closed := filepath.Join(dir, "closed")
	os.Mkdir(closed, 0o700)
	inClosed := write(t, closed, "in.txt", []byte("in"))
	f := newFetcher(t, Config{CacheDir: t.TempDir(), CacheSize: 1 << 20})
	for _, tc := range []struct {
		path, user string
		ok         bool
	}{
		{open, "nobody", true},
		{secret, "nobody", false},
		{inClosed, "nobody", false},
		{secret, "", true}, // the agent's own user
	} {
		for _, cache := range []bool{false, true} {
			sb := t.TempDir()
			u := uri(tc.path)
			u.Cache = proto.Bool(cache)
			err := f.Fetch(context.Background(), []*mesos.CommandInfo_URI{u}, sb, tc.user)
			if tc.ok != (err == nil) {
				t.Errorf("%s for %q (cache=%v): %v", tc.path, tc.user, cache, err)
			}
			if err != nil && (!errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), tc.user)) {
				t.Errorf("error %q is not a permission error naming the user", err)
			}
		}
	}
}

package files

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"errors"

	"github.com/mezzo-project/mezzo/api/v1/httpapi"

	"fmt"

	"strconv"

	"syscall"
)

// sandboxServer serves dir as "/sb".
func sandboxServer(dir string) *Server {
	return &Server{Resolve: func(requested string) (Target, error) {
		rel, ok := strings.CutPrefix(Clean(requested), "/sb")
		if !ok {
			return Target{}, NotFound()
		}
		return Target{Root: dir, Rel: strings.TrimPrefix(rel, "/")}, nil
	}}
}

// TestSymlinkSwapNeverLeaksOutside: a task swaps a file for a symlink to
// a secret outside its sandbox, and a directory for a symlink to an
// outside directory, in a loop, while the files are read, downloaded and
// listed: no answer carries the secret, its size, or the outside
// directory's entries. (Checking a path and then opening it by name
// leaked the secret in 3-5 % of reads.)
func TestSymlinkSwapNeverLeaksOutside(t *testing.T) {
	base := t.TempDir()
	sandbox, outside := filepath.Join(base, "sandbox"), filepath.Join(base, "outside")
	for _, d := range []string{sandbox, outside, filepath.Join(outside, "etc")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secret := bytes.Repeat([]byte("SECRET"), 1000) // 6000 bytes
	if err := os.WriteFile(filepath.Join(outside, "shadow"), secret, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "etc", "marker-outside"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sandbox, "out"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(sandbox, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := sandboxServer(sandbox)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var once sync.Once
	halt := func() { once.Do(func() { close(stop); wg.Wait() }) }
	defer halt() // before TempDir's removal, also on a failure
	wg.Add(1)
	go func() { // the task
		defer wg.Done()
		file, dir := filepath.Join(sandbox, "out"), filepath.Join(sandbox, "d")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tmp := filepath.Join(sandbox, ".swap")
			os.Remove(tmp)
			if i%2 == 0 {
				os.Symlink(filepath.Join(outside, "shadow"), tmp)
				os.Rename(tmp, file)
				os.RemoveAll(dir)
				os.Symlink(filepath.Join(outside, "etc"), dir)
			} else {
				os.WriteFile(tmp, []byte("inside"), 0o644)
				os.Rename(tmp, file)
				os.Remove(dir)
				os.Mkdir(dir, 0o755)
			}
		}
	}()
	deadline := time.Now().Add(2 * time.Second)
	var reads, served int
	for time.Now().Before(deadline) {
		reads++
		if _, data, err := s.ReadFile("/sb/out", 0, nil); err == nil {
			served++
			if bytes.Contains(data, []byte("SECRET")) {
				t.Fatalf("READ_FILE returned the secret outside the sandbox")
			}
		}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/files/download?path=/sb/out", nil)
		if err := s.Download(rec, req); err == nil && strings.Contains(rec.Body.String(), "SECRET") {
			t.Fatalf("download returned the secret outside the sandbox")
		}
		for _, p := range []string{"/sb", "/sb/d"} {
			infos, err := s.List(p)
			if err != nil {
				continue
			}
			for _, fi := range infos {
				if fi.GetSize() == uint64(len(secret)) || strings.Contains(fi.GetPath(), "marker-outside") {
					t.Fatalf("listing %s shows what is outside the sandbox: %v", p, fi)
				}
			}
		}
	}
	halt()
	if served == 0 {
		t.Fatalf("none of %d reads was served: the test checked nothing", reads)
	}
	t.Logf("%d reads, %d served the sandbox's file", reads, served)
}

// TestEscapesAreRefused: a symlink or ".." out of the root is 400, a
// missing file 404, a symlink within the root is followed.
func TestEscapesAreRefused(t *testing.T) {
	base := t.TempDir()
	sandbox := filepath.Join(base, "sandbox")
	if err := os.MkdirAll(filepath.Join(sandbox, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(base, "secret"), []byte("SECRET"), 0o600)
	os.WriteFile(filepath.Join(sandbox, "sub", "ok"), []byte("fine"), 0o644)
	os.Symlink(filepath.Join(base, "secret"), filepath.Join(sandbox, "escape"))
	os.Symlink("sub/ok", filepath.Join(sandbox, "inner"))
	s := sandboxServer(sandbox)
	for _, c := range []struct {
		path   string
		status int
		data   string
	}{
		{"/sb/escape", 400, ""},
		{"/sb/../secret", 400, ""},
		{"/sb/sub/../../secret", 400, ""},
		{"/sb/missing", 404, ""},
		{"/sb/inner", 0, "fine"},
		{"/sb/sub/../inner", 0, "fine"},
	} {
		_, data, err := s.ReadFile(c.path, 0, nil)
		if c.status == 0 {
			if err != nil || string(data) != c.data {
				t.Errorf("%s: %q, %v; want %q", c.path, data, err, c.data)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: served %q, want %d", c.path, data, c.status)
			continue
		}
		if got := statusOf(err); got != c.status {
			t.Errorf("%s: %v (status %d), want %d", c.path, err, got, c.status)
		}
	}
	infos, err := s.List("/sb")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fi := range infos {
		names = append(names, filepath.Base(fi.GetPath())+":"+kind(fi.GetMode())+":"+strconv.FormatUint(fi.GetSize(), 10))
	}
	// The escaping link is listed as a link, not as the 6-byte secret;
	// the inner link as the 4-byte file it names.
	want := fmt.Sprintf("escape:l:%d,inner:-:4,sub:d:", len(filepath.Join(base, "secret")))
	if got := strings.Join(names, ","); !strings.HasPrefix(got, want) {
		t.Errorf("listing %s, want %s...", got, want)
	}
}

func statusOf(err error) int {
	var he *httpapi.Error
	if errors.As(err, &he) {
		return he.Status
	}
	return -1
}

// kind is a raw Unix mode's file type as ls shows it.
func kind(mode uint32) string {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFLNK:
		return "l"
	case syscall.S_IFDIR:
		return "d"
	case syscall.S_IFREG:
		return "-"
	}
	return "?"
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad command lines and bad specs exit 2 with a message naming the
// problem; asking about a job that never ran exits 1.
func TestJobCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: j\ntasks: 2\ncommand: 'echo {{index .Inputs.f .Index}}'\ninputs: {f: [a]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("name: j\ntasks: 3\ncommand: 'true'\nstate_dir: st\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run"}, 2, "usage: mezzo job run SPEC"},
		{[]string{"run", bad}, 2, "task 1"},
		{[]string{"run", filepath.Join(dir, "missing.yaml")}, 2, "no such file"},
		{[]string{"logs", good, "x"}, 2, `index "x"`},
		{[]string{"status", good}, 1, "job j is not running and has not run"},
		{[]string{"kill", good}, 1, "job is not running"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"status", good, "--bogus"}, 2, "unknown flag"},
	} {
		var out, errb bytes.Buffer
		code := runJob(tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("job %v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
	}
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad command lines and bad specs exit 2 with a message naming the
// problem; asking a service that is not running exits 1.
func TestServiceCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: s\nroles:\n  - name: a\n    command: x\n    ports: {p: '99999'}\n"), 0o644)
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("name: s\nstate_dir: st\nroles:\n  - name: a\n    command: sleep 100\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run"}, 2, "usage: mezzo service run SPEC"},
		{[]string{"run", bad}, 2, "port p"},
		{[]string{"run", filepath.Join(dir, "missing.yaml")}, 2, "no such file"},
		{[]string{"scale", good, "a", "x"}, 2, `instances "x"`},
		{[]string{"status", good}, 1, "the service is not running"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"status", good, "--bogus"}, 2, "unknown flag"},
	} {
		var out, errb bytes.Buffer
		code := runService(tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("service %v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
	}
}

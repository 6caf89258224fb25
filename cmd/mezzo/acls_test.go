package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --acls is read from the command line, the environment and a
// configuration file (where it may be a mapping); a misspelt ACL stops the
// master and the agent with an error naming it.
func TestACLsFlag(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "master.yaml")
	if err := os.WriteFile(config, []byte("acls:\n  permissive: false\n  run_taks:\n    - principals: {type: ANY}\n      users: {type: ANY}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "acls.json")
	if err := os.WriteFile(file, []byte(`{"view_flag": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		run  func(args []string, stdout, stderr *bytes.Buffer) int
		args []string
		want string
	}{
		{runMasterBuffers, []string{"--registry=in_memory", "--config=" + config}, `unknown ACL "run_taks"; did you mean "run_tasks"?`},
		{runMasterBuffers, []string{"--registry=in_memory", `--acls={"run_tasks": [{"principals": {"type": "ANY"}}]}`}, `run_tasks[0]: missing required field "users"`},
		{runAgentBuffers, []string{"--master=127.0.0.1:1", "--work_dir=" + dir, "--acls=file://" + file}, `unknown ACL "view_flag"`},
		{runAgentBuffers, []string{"--master=127.0.0.1:1", "--work_dir=" + dir, "--acls=" + file}, `unknown ACL "view_flag"`},
	} {
		var stdout, stderr bytes.Buffer
		if code := tc.run(tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

func runMasterBuffers(args []string, stdout, stderr *bytes.Buffer) int {
	return runMaster(args, stdout, stderr)
}

func runAgentBuffers(args []string, stdout, stderr *bytes.Buffer) int {
	return runAgent(args, stdout, stderr)
}

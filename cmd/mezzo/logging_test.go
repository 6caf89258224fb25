package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoggingFlags(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	parse := func(args ...string) *logFlags {
		t.Helper()
		var lf logFlags
		fs := flag.NewFlagSet("master", flag.ContinueOnError)
		lf.add(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return &lf
	}
	var stderr bytes.Buffer
	log, _, closeLog, err := parse("--logging_level=WARNING", "--log_dir="+dir).open("master", &stderr)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("not shown")
	log.Warn("shown", "k", "v")
	closeLog()
	b, err := os.ReadFile(filepath.Join(dir, "mezzo-master.log"))
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"stderr": stderr.String(), "file": string(b)} {
		if strings.Contains(out, "not shown") || !strings.Contains(out, "shown k=v") {
			t.Errorf("%s: %q", name, out)
		}
	}

	stderr.Reset()
	log, _, closeLog, err = parse("--quiet").open("agent", &stderr)
	if err != nil {
		t.Fatal(err)
	}
	log.Error("quiet")
	closeLog()
	if stderr.Len() != 0 {
		t.Errorf("--quiet still wrote %q", stderr.String())
	}

	if _, _, _, err := parse("--logging_level=LOUD").open("agent", &stderr); err == nil || !strings.Contains(err.Error(), "--logging_level=LOUD") {
		t.Errorf("bad level: %v", err)
	}
}

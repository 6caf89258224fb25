package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/detector"
	"github.com/mezzo-project/mezzo/internal/zktest"
)

func TestResolve(t *testing.T) {
	e := zktest.Start(t, 1)
	url := "zk://" + e.Connect() + "/mezzo"

	// No master contends yet: resolve gives up after --timeout.
	var out, errOut bytes.Buffer
	start := time.Now()
	if code := run([]string{"resolve", "--timeout=1secs", url}, &out, &errOut); code != 1 {
		t.Fatalf("resolve with no leader: exit %d, stdout %q", code, out.String())
	}
	if took := time.Since(start); took < time.Second || took > 5*time.Second {
		t.Errorf("resolve with --timeout=1secs took %v", took)
	}
	if msg := errOut.String(); !strings.Contains(msg, "failed to detect the master") || !strings.Contains(msg, "within 1secs") {
		t.Errorf("stderr %q", msg)
	}

	u, err := detector.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := detector.Contend(ctx, u, 2*time.Second, &mesos.MasterInfo{
		Id: proto.String("m1"), Ip: proto.Uint32(16777343), Port: proto.Uint32(5050), Pid: proto.String("master@127.0.0.1:5050"),
		Address: &mesos.Address{Ip: proto.String("127.0.0.1"), Port: proto.Int32(5050)},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	file := filepath.Join(t.TempDir(), "zk")
	os.WriteFile(file, []byte(url+"\n"), 0o644)
	for _, args := range [][]string{{"resolve", url}, {"resolve", "--master=file://" + file, "--timeout=5secs"}} {
		out.Reset()
		errOut.Reset()
		if code := run(args, &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
		if got := out.String(); got != "127.0.0.1:5050\n" {
			t.Errorf("%v printed %q, want 127.0.0.1:5050", args, got)
		}
	}
}

func TestResolveRejectsBadInput(t *testing.T) {
	for _, c := range []struct {
		args    []string
		mention string
	}{
		{[]string{"resolve"}, "exactly one master"},
		{[]string{"resolve", "a:1", "b:2"}, "exactly one master"},
		{[]string{"resolve", "zk://h:2181"}, "empty path"},
		{[]string{"resolve", "--timeout=soon", "h:5050"}, "timeout"},
	} {
		var out, errOut bytes.Buffer
		if code := run(c.args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), c.mention) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errOut.String(), c.mention)
		}
	}
	// A fixed master resolves to itself.
	var out, errOut bytes.Buffer
	if code := run([]string{"resolve", "master@10.0.0.7:5050"}, &out, &errOut); code != 0 || out.String() != "10.0.0.7:5050\n" {
		t.Errorf("fixed master: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

func TestSplitPositional(t *testing.T) {
	fs := flag.NewFlagSet("resolve", flag.ContinueOnError)
	fs.String("master", "", "")
	fs.Bool("verbose", false, "")
	flagArgs, pos := splitPositional(fs, []string{"--verbose", "--master", "h:1", "zk://a/b", "--timeout=1secs", "--", "-x"})
	if strings.Join(flagArgs, " ") != "--verbose --master h:1 --timeout=1secs" || strings.Join(pos, " ") != "zk://a/b -x" {
		t.Errorf("flags %q, positional %q", flagArgs, pos)
	}
}

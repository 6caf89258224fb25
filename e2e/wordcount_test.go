package e2e

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildWordcount builds examples/wordcount into a temporary directory.
func buildWordcount(t testing.TB) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "wordcount")
	cmd := exec.Command("go", "build", "-o", out, "../examples/wordcount")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build examples/wordcount: %v\n%s", err, b)
	}
	return out
}

// writeCorpus writes files of text (words of a Zipf-like vocabulary, with
// punctuation and mixed case) of about bytes in total into dir.
func writeCorpus(t testing.TB, dir string, files int, bytes int64) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 11))
	vocab := make([]string, 5000)
	for i := range vocab {
		n := 2 + r.IntN(8)
		b := make([]byte, n)
		for j := range b {
			b[j] = byte('a' + r.IntN(26))
		}
		vocab[i] = string(b)
	}
	zipf := rand.NewZipf(r, 1.1, 1, uint64(len(vocab)-1))
	per := bytes / int64(files)
	for f := 0; f < files; f++ {
		var b strings.Builder
		for int64(b.Len()) < per {
			for w := 3 + r.IntN(12); w > 0; w-- {
				word := vocab[zipf.Uint64()]
				if r.IntN(10) == 0 {
					word = strings.ToUpper(word[:1]) + word[1:]
				}
				b.WriteString(word)
				b.WriteString([]string{" ", " ", ", ", ". ", "; "}[r.IntN(5)])
			}
			b.WriteString("\n")
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%03d.txt", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runWordcount runs the driver and returns its stdout, stderr and the
// counts it wrote.
func runWordcount(t *testing.T, wc string, args ...string) (string, string, []byte) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "counts.tsv")
	cmd := exec.Command(wc, append([]string{"--out=" + out}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("wordcount %s: %v\n%s\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	counts, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), counts
}

var executorsLine = regexp.MustCompile(`(\d+) partitions on (\d+) executors \(([^)]*)\), (\d+) re-run`)

func TestWordcountMatchesLocalRun(t *testing.T) {
	wc := buildWordcount(t)
	input := t.TempDir()
	writeCorpus(t, input, 5, 3<<20)
	c := startCluster(t, 3, "cpus:2;mem:1024;disk:1024")

	localOut, _, localCounts := runWordcount(t, wc, "--local", input)
	out, errOut, counts := runWordcount(t, wc, "--master="+c.master, "--partition_size=200KiB", input)
	if out != localOut || !bytes.Equal(counts, localCounts) {
		t.Fatalf("distributed result differs from the local one:\n%s\nlocal:\n%s", out, localOut)
	}
	m := executorsLine.FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("no executors line:\n%s", errOut)
	}
	parts, execs := atoi(t, m[1]), atoi(t, m[2])
	if parts < 12 || execs < 2 || execs > 3 {
		t.Errorf("%d partitions on %d executors; want >= 12 partitions on 2..3 executors (one per agent, reused): %s", parts, execs, m[0])
	}
	if !strings.Contains(out, " words, ") || len(localCounts) < 1000 {
		t.Errorf("result looks empty:\n%s", out)
	}

	piLocal, _, _ := runWordcount(t, wc, "--local", "--pi=2000000", "--pi_partitions=12")
	pi, _, _ := runWordcount(t, wc, "--master="+c.master, "--pi=2000000", "--pi_partitions=12", "--quiet")
	if pi != piLocal || !strings.HasPrefix(pi, "pi is about 3.14") {
		t.Errorf("pi: distributed %q, local %q", pi, piLocal)
	}
}

// TestWordcountSurvivesExecutorKill kills one executor process while its
// partitions run: the driver runs them again and prints the local result.
func TestWordcountSurvivesExecutorKill(t *testing.T) {
	wc := buildWordcount(t)
	input := t.TempDir()
	writeCorpus(t, input, 4, 2<<20)
	c := startCluster(t, 3, "cpus:2;mem:1024;disk:1024")
	localOut, _, localCounts := runWordcount(t, wc, "--local", input)

	out := filepath.Join(t.TempDir(), "counts.tsv")
	cmd := exec.Command(wc, "--master="+c.master, "--partition_size=50KiB", "--delay=300ms", "--out="+out, input)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	var victim int
	waitFor(t, 60*time.Second, "a partition done and an executor to kill", func() error {
		if !strings.Contains(stderr.String(), "partition done") {
			return fmt.Errorf("no partition done yet")
		}
		pids := wordcountExecutors(c.work)
		if len(pids) == 0 {
			return fmt.Errorf("no executor process under %s", c.work)
		}
		victim = pids[0]
		return nil
	})
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatalf("kill executor %d: %v", victim, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("wordcount: %v\n%s", err, stderr.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("wordcount did not end:\n%s", stderr.String())
	}
	counts, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if stdout.String() != localOut || !bytes.Equal(counts, localCounts) {
		t.Fatalf("result after the executor kill differs from the local one:\n%s\nlocal:\n%s", stdout.String(), localOut)
	}
	m := executorsLine.FindStringSubmatch(stderr.String())
	if m == nil || atoi(t, m[4]) == 0 {
		t.Fatalf("no partition was re-run after killing executor %d:\n%s", victim, stderr.String())
	}
	t.Logf("killed executor %d: %s", victim, m[0])
}

// wordcountExecutors lists the pids of wordcount executors whose sandbox
// is under work.
func wordcountExecutors(work string) []int {
	var pids []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if !bytes.HasPrefix(cmdline, []byte("./wordcount\x00executor")) {
			continue
		}
		if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err == nil && strings.HasPrefix(cwd, work) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var wordcountBenchMB = flag.Int("wordcount_bench_mb", 0, "run TestWordcountThroughput on this many MB of generated text (0: skip)")

// TestWordcountThroughput times wordcount on -wordcount_bench_mb MB of
// generated text, distributed on 4 agents and in one process
// (docs/benchmarks.md): go test ./e2e -run TestWordcountThroughput
// -wordcount_bench_mb=200.
func TestWordcountThroughput(t *testing.T) {
	mb := *wordcountBenchMB
	if mb == 0 {
		t.Skip("set -wordcount_bench_mb=N to run")
	}
	wc := buildWordcount(t)
	input := t.TempDir()
	writeCorpus(t, input, 20, int64(mb)<<20)
	c := startCluster(t, 4, "cpus:2;mem:2048;disk:1024")
	start := time.Now()
	localOut, _, localCounts := runWordcount(t, wc, "--local", input)
	local := time.Since(start)
	start = time.Now()
	out, errOut, counts := runWordcount(t, wc, "--master="+c.master, "--quiet", "--task_cpus=1", "--task_mem=256", input)
	dist := time.Since(start)
	if out != localOut || !bytes.Equal(counts, localCounts) {
		t.Fatalf("distributed result differs from the local one:\n%s\nlocal:\n%s", out, localOut)
	}
	m := executorsLine.FindStringSubmatch(errOut)
	t.Logf("%d MB: local %v (%.1f MB/s), distributed %v (%.1f MB/s); %s", mb, local.Round(time.Millisecond),
		float64(mb)/local.Seconds(), dist.Round(time.Millisecond), float64(mb)/dist.Seconds(), m[0])
}

// Command wordcount is a data-parallel program in the style of a Spark
// driver, written with Mezzo's Go SDK. Run on a cluster
//
//	wordcount --master HOST:5050 DIR
//
// it serves its own binary over HTTP and has the agents fetch it as their
// executor (as Spark ships its jars), cuts the text files under DIR into
// partitions of about --partition_size bytes, and runs one task per
// partition on every agent that offers resources. It starts one executor
// per agent and launches all later tasks of that agent on it; each task
// reads its byte range from the driver's HTTP server and sends its word
// counts back as a framework message. The partitions of an executor that
// dies (or whose agent is lost) run again elsewhere. The result — the
// total, the --top words, and every count into --out — is identical to
// the single-process run, `wordcount --local DIR`.
//
// With --pi N instead of DIR it estimates pi from N random points, cut into
// --pi_partitions seeded partitions (so the estimate too is identical to
// --local).
//
// The agents start it as `wordcount executor`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "executor" {
		fs := flag.NewFlagSet("wordcount executor", flag.ContinueOnError)
		delay := fs.Duration("delay", 0, "wait this long before working each partition")
		if err := fs.Parse(os.Args[2:]); err != nil {
			os.Exit(2)
		}
		os.Exit(runExecutor(*delay))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wordcount", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: wordcount [--master HOST:5050 | --local] [flags] DIR\n       wordcount [--master HOST:5050 | --local] --pi N [flags]")
		fs.PrintDefaults()
	}
	master := fs.String("master", "127.0.0.1:5050", "the master, host:port")
	local := fs.Bool("local", false, "count in this process, without a cluster")
	listen := fs.String("listen", "127.0.0.1:0", "the address the driver serves its binary and the input on (reachable by the agents)")
	size := fs.String("partition_size", "8MiB", "about how many bytes of input each partition holds (e.g. 500KiB, 8MiB)")
	top := fs.Int("top", 20, "print this many most frequent words")
	out := fs.String("out", "", "write every word's count (word<TAB>count, most frequent first), or the pi estimate, into this file")
	cpus := fs.Float64("task_cpus", 0.5, "cpus of each task")
	mem := fs.Float64("task_mem", 64, "memory (MB) of each task")
	delay := fs.Duration("delay", 0, "have the executors wait this long before each partition (to watch a run)")
	samples := fs.Int64("pi", 0, "estimate pi from this many random points instead of counting words")
	piParts := fs.Int("pi_partitions", 16, "partitions of the pi estimate")
	quiet := fs.Bool("quiet", false, "log only warnings")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "wordcount: "+format+"\n", a...)
		return 2
	}
	kind, input := "wordcount", ""
	var parts []Partition
	switch {
	case *samples < 0:
		return usage("--pi %d: want a number of points > 0", *samples)
	case *samples > 0:
		if fs.NArg() != 0 {
			return usage("--pi takes no input directory")
		}
		if *piParts < 1 || int64(*piParts) > *samples {
			return usage("--pi_partitions %d: want 1..%d", *piParts, *samples)
		}
		kind, parts = "pi", piPartitions(*samples, *piParts)
	default:
		if fs.NArg() != 1 {
			fs.Usage()
			return 2
		}
		input = fs.Arg(0)
		n, err := parseSize(*size)
		if err != nil {
			return usage("--partition_size: %v", err)
		}
		var total int64
		if parts, total, err = split(input, n); err != nil {
			return usage("%v", err)
		}
		fmt.Fprintf(stderr, "wordcount: %d bytes in %d partitions\n", total, len(parts))
	}
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	start := time.Now()
	var res *Result
	if *local {
		var err error
		if res, err = runLocal(input, kind, parts); err != nil {
			fmt.Fprintf(stderr, "wordcount: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "wordcount: local run took %v\n", time.Since(start).Round(time.Millisecond))
	} else {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		r, stats, reruns, err := runDriver(ctx, driverConfig{master: *master, listen: *listen, input: input, parts: parts,
			taskCpus: *cpus, taskMem: *mem, delay: *delay, resultTTL: 10 * time.Second, log: log})
		if err != nil {
			fmt.Fprintf(stderr, "wordcount: %v\n", err)
			return 1
		}
		res = r
		var ids []string
		for id, n := range stats {
			ids = append(ids, fmt.Sprintf("%s=%d", id, n))
		}
		sort.Strings(ids)
		fmt.Fprintf(stderr, "wordcount: %d partitions on %d executors (%s), %d re-run, in %v\n", len(parts), len(stats),
			strings.Join(ids, " "), reruns, time.Since(start).Round(time.Millisecond))
	}
	if err := report(stdout, kind, res, *top, *out); err != nil {
		fmt.Fprintf(stderr, "wordcount: %v\n", err)
		return 1
	}
	return 0
}

// parseSize reads 123, 500KiB, 8MiB or 1GiB (KB, MB, GB too, as powers of
// 1024).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}}
	mult := int64(1)
	num := s
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = v, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New(s + ": want a size > 0 such as 500KiB or 8MiB")
	}
	return n * mult, nil
}

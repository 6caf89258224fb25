package cgroups

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// FreezeTimeout bounds the freeze that precedes a kill: a process in
// uninterruptible sleep can keep a cgroup from freezing, and the kill
// must go on without it (what then forks is killed on the next pass).
const FreezeTimeout = 5 * time.Second

// freezable is what killFrozen needs of a cgroup.
type freezable interface {
	Name() string
	Procs() ([]int, error)
	Freeze(ctx context.Context) error
	Thaw(ctx context.Context) error
}

// killFrozen kills every process of c as Mesos' cgroups::destroy does:
// freeze (nothing forks meanwhile), SIGKILL each, thaw (frozen tasks die
// only once thawed), then wait until the cgroup is empty, killing
// whatever still shows up.
func killFrozen(ctx context.Context, c freezable) error {
	if pids, err := c.Procs(); err == nil && len(pids) == 0 {
		return nil // nothing to freeze
	}
	fctx, cancel := context.WithTimeout(ctx, FreezeTimeout)
	freezeErr := c.Freeze(fctx)
	cancel()
	pids, err := c.Procs()
	if err != nil {
		return errors.Join(err, c.Thaw(context.WithoutCancel(ctx)))
	}
	sigkill(pids)
	if err := c.Thaw(ctx); err != nil {
		return errors.Join(freezeErr, err)
	}
	return waitEmpty(ctx, c)
}

// waitEmpty waits until c holds no process, SIGKILLing those it still
// sees, or until ctx ends.
func waitEmpty(ctx context.Context, c freezable) error {
	return until(ctx, func() (bool, error) {
		pids, err := c.Procs()
		if err != nil {
			return false, err
		}
		sigkill(pids)
		return len(pids) == 0, nil
	}, fmt.Sprintf("cgroup %s: wait until empty", c.Name()))
}

func sigkill(pids []int) {
	for _, pid := range pids {
		_ = unix.Kill(pid, unix.SIGKILL) // ESRCH: gone already
	}
}

// until calls done until it answers true or fails, backing off from 1
// ms to 50 ms between calls, or until ctx ends (an error naming what).
func until(ctx context.Context, done func() (bool, error), what string) error {
	delay := time.Millisecond
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// writeFile writes s to an existing control file.
func writeFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", s, path, err)
	}
	return nil
}

// readKV reads a flat keyed file ("key value" lines: memory.events,
// memory.oom_control, cgroup.events).
func readKV(path string) (map[string]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parse %s: line %q: %w", path, sc.Text(), err)
		}
		out[k] = n
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// sortIO orders block device statistics by device number.
func sortIO(s []IOStat) {
	slices.SortFunc(s, func(a, b IOStat) int {
		if a.Major != b.Major {
			return int(a.Major) - int(b.Major)
		}
		return int(a.Minor) - int(b.Minor)
	})
}

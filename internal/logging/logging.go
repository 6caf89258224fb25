// Package logging holds a process's logging verbosity as Mesos exposes it:
// glog's verbosity level (0 by default) that an operator may raise for a
// while through /logging/toggle or the operator API's SET_LOGGING_LEVEL,
// after which it returns to where it was. Mezzo logs through log/slog; a
// verbosity of 1 or more logs at debug level.
package logging

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/mezzo-project/mezzo/internal/flags"
)

// Verbosity is a process's logging verbosity. Its zero value is not usable;
// use New. A nil *Verbosity reports 0 and refuses changes.
type Verbosity struct {
	level *slog.LevelVar // what the process's handler filters by
	base  slog.Level     // the level of verbosity 0

	mu      sync.Mutex
	v       uint32
	revert  *time.Timer
	revertC uint64 // counts changes, so a stale revert does nothing
}

// New returns verbosity 0 for a handler that logs at base and above; the
// handler must filter by Level().
func New(base slog.Level) *Verbosity {
	lv := &slog.LevelVar{}
	lv.Set(base)
	return &Verbosity{level: lv, base: base}
}

// Level is what the process's log handler should filter by.
func (v *Verbosity) Level() slog.Leveler { return v.level }

// Get returns the current verbosity.
func (v *Verbosity) Get() uint32 {
	if v == nil {
		return 0
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.v
}

// Set makes the verbosity level for d, then 0 again (level 0 ends a raise
// at once).
func (v *Verbosity) Set(level uint32, d time.Duration) error {
	if v == nil {
		return fmt.Errorf("this process's logging verbosity cannot be changed")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.apply(level)
	if v.revert != nil {
		v.revert.Stop()
		v.revert = nil
	}
	if level != 0 {
		v.revertC++
		n := v.revertC
		v.revert = time.AfterFunc(d, func() {
			v.mu.Lock()
			defer v.mu.Unlock()
			if v.revertC == n {
				v.apply(0)
				v.revert = nil
			}
		})
	}
	return nil
}

func (v *Verbosity) apply(level uint32) {
	v.v = level
	if level == 0 {
		v.level.Set(v.base)
	} else {
		v.level.Set(min(v.base, slog.LevelDebug))
	}
}

// ToggleHandler serves libprocess' /logging/toggle: without parameters it
// answers the current verbosity; with level=N&duration=D it raises the
// verbosity to N for D (Mesos' duration syntax). Missing or bad values
// answer 400 naming them.
func (v *Verbosity) ToggleHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		_, hasLevel := q["level"]
		_, hasDuration := q["duration"]
		switch {
		case !hasLevel && !hasDuration:
			fmt.Fprintf(w, "%d\n", v.Get())
			return
		case !hasDuration:
			http.Error(w, "Expecting 'duration=value' in query.", http.StatusBadRequest)
			return
		case !hasLevel:
			http.Error(w, "Expecting 'level=value' in query.", http.StatusBadRequest)
			return
		}
		level, err := strconv.ParseUint(q.Get("level"), 10, 32)
		if err != nil {
			http.Error(w, fmt.Sprintf("Invalid level '%s'.", q.Get("level")), http.StatusBadRequest)
			return
		}
		d, err := flags.ParseDuration(q.Get("duration"))
		if err != nil {
			http.Error(w, fmt.Sprintf("Invalid duration '%s': %v.", q.Get("duration"), err), http.StatusBadRequest)
			return
		}
		if d < 0 {
			// Raising the verbosity for less than no time would answer
			// 200 and change nothing.
			http.Error(w, fmt.Sprintf("Invalid duration '%s': must not be negative.", q.Get("duration")), http.StatusBadRequest)
			return
		}
		if err := v.Set(uint32(level), d); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

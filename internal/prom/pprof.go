package prom

import (
	"net/http"
	"net/http/pprof"
	runtimepprof "runtime/pprof"
	"strings"
)

// PprofPrefix is the path under which Pprof serves net/http/pprof.
const PprofPrefix = "/debug/pprof/"

// Pprof serves net/http/pprof's index, cmdline, profile, symbol, trace and
// named profiles (heap, goroutine, ...) under PprofPrefix when enabled;
// when not, it answers every path 404, as if it were not there. Profiles
// expose the process' memory and code and cost CPU while taken, so a
// daemon enables them only by flag.
func Pprof(enabled bool) http.Handler {
	if !enabled {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "Profiling is disabled; start the daemon with --enable_pprof to serve "+PprofPrefix, http.StatusNotFound)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, under := strings.CutPrefix(r.URL.Path, PprofPrefix)
		switch {
		case !under:
			// "/debug/pprof": the index's links are relative to the
			// directory.
			http.Redirect(w, r, PprofPrefix, http.StatusMovedPermanently)
		case name == "cmdline":
			pprof.Cmdline(w, r)
		case name == "profile":
			pprof.Profile(w, r)
		case name == "symbol":
			pprof.Symbol(w, r)
		case name == "trace":
			pprof.Trace(w, r)
		default:
			// The index, and the named profiles (heap, goroutine, ...)
			// by the path's last element: 404 for an unknown one.
			pprof.Index(w, r)
		}
	})
}

// PprofPaths are the paths Pprof serves, for a router that matches exact
// paths: the index, the handlers of net/http/pprof and runtime/pprof's
// named profiles.
func PprofPaths() []string {
	out := []string{strings.TrimSuffix(PprofPrefix, "/"), PprofPrefix}
	for _, n := range []string{"cmdline", "profile", "symbol", "trace"} {
		out = append(out, PprofPrefix+n)
	}
	for _, p := range runtimepprof.Profiles() {
		out = append(out, PprofPrefix+p.Name())
	}
	return out
}

// Profiler answers Mesos' /profiler/start and /profiler/stop. Mesos 1.11
// serves them only when built with gperftools and started with
// --enable_process_profiling; Mezzo has no such profiler and answers 501
// Not Implemented, naming /debug/pprof/ (and the flag that enables it) as
// the way to profile a Mezzo daemon.
func Profiler(pprofEnabled bool) http.Handler {
	msg := "Mezzo has no perftools profiler: use " + PprofPrefix + "profile (Go's pprof), "
	if pprofEnabled {
		msg += "which this daemon serves"
	} else {
		msg += "which this daemon serves when started with --enable_pprof"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, msg, http.StatusNotImplemented)
	})
}

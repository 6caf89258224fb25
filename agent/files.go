package agent

import (
	"net/http"
	"path/filepath"
	"strings"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/internal/files"
)

// The sandbox file endpoints, as Mesos' agent serves them (its "files"
// process, src/files/files.cpp):
//
//	/files/browse?path=P              a directory's entries (legacy.FileListing)
//	/files/read?path=P&offset=O&length=L   a chunk of a file (legacy.FileData)
//	/files/download?path=P            a file's bytes, as an attachment
//	/files/debug                      the attached paths: virtual path -> real path
//
// Mesos serves only what its agent has "attached": each executor run's
// sandbox, under its real path
// <work_dir>/slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/<container>,
// under .../runs/latest, and under the virtual path
// /frameworks/<fw>/executors/<ex>/runs/latest, which hides the work
// directory and agent id. Mezzo resolves a requested path without a table:
//
//   - /frameworks/<fw>/executors/<ex>/runs/latest[/rest] is the current
//     agent's <work_dir>/slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/latest[/rest]
//     (404 before the agent has an id);
//   - an absolute real path is served when it names a run directory
//     <work_dir>/slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/<run>
//     (a container id or latest) or something below one, of any agent id
//     in the work directory, so completed runs stay readable until their
//     directories are removed;
//   - /slave/log is the agent's own log file, with --log_dir (Config.LogFile),
//     as Mesos attaches it;
//   - anything else is 404, as an unattached path is in Mesos.
//
// Beyond Mesos, /slave lists the log as a directory would (filesVirtual).
//
// The run directory is the root the answer must stay in: the path below
// it is opened beneath it in one step (os.Root, files.Target), and a
// symlink or ".." leading outside is refused with 400, as Mesos refuses
// a path that leaves its attached directory. A task can thus not read
// /etc/shadow through a symlink in its sandbox, nor another run's
// sandbox, even by swapping a file for a symlink while the agent serves
// it; a listing leaves such a symlink out rather than show its target's
// size, owner or times.
//
// Like Mesos' endpoints, these answer every method and ignore a trailing
// path after the endpoint's name. Every file operation runs on the
// request's goroutine; only /files/debug visits the state goroutine. The endpoints themselves (parameters,
// listings, reads, downloads) are internal/files', shared with the master.

// routeFiles registers the /files endpoints on the agent's mux, served
// by the shared file server (internal/files) over the agent's attached
// paths (resolveFilePath, filesVirtual).
func (a *Agent) routeFiles() {
	for path, h := range map[string]httpapi.HandlerFunc{
		"/files/browse":   a.files.Browse,
		"/files/read":     a.files.Read,
		"/files/download": a.files.Download,
		"/files/debug":    a.serveFilesDebug,
	} {
		var handler http.Handler = httpapi.Wrap(a.log, h)
		if path == "/files/debug" {
			handler = a.guardEndpoint(path, handler)
		} else {
			handler = a.guardFiles(handler)
		}
		a.mux.Handle(path, handler)
		a.mux.Handle(path+"/", handler)
	}
}

// newFileServer is the agent's file server over its attached paths.
func (a *Agent) newFileServer() *files.Server {
	return &files.Server{Resolve: a.resolveFilePath, Virtual: a.filesVirtual, Started: a.started, Log: a.log}
}

// filesVirtual lists the agent's one virtual directory, a Mezzo
// extension: /slave, which holds the agent's log as /slave/log when it
// writes one (--log_dir), so that a client (the master's
// /agents/<id>/slave) can find it by browsing. Every other path is
// resolveFilePath's, as in Mesos.
func (a *Agent) filesVirtual(p string) ([]files.Entry, bool, error) {
	if p != "/slave" || a.cfg.LogFile == "" {
		return nil, false, nil
	}
	return []files.Entry{{Path: "/slave/log", Real: a.cfg.LogFile}}, true, nil
}

// serveFilesDebug is /files/debug: each attached path to the real
// directory it serves. For every executor the agent knows (running, or
// terminated and not yet forgotten) that is its virtual path, its
// .../runs/latest path and its run directory itself, each mapped to the
// run directory with symlinks resolved, as Mesos attaches a run's
// sandbox three times. A run directory that no longer exists is left out.
func (a *Agent) serveFilesDebug(w http.ResponseWriter, r *http.Request) error {
	type run struct{ fw, ex, sandbox string }
	var runs []run
	var agentID string
	if err := a.do(func() {
		agentID = a.st.agentID()
		for _, fw := range a.st.frameworks {
			for _, ex := range fw.executors {
				runs = append(runs, run{fw: fw.id, ex: ex.id, sandbox: ex.sandbox})
			}
		}
	}); err != nil {
		return httpapi.ServiceUnavailable("Agent is shutting down")
	}
	doc := map[string]string{}
	for _, rn := range runs {
		real, err := filepath.EvalSymlinks(rn.sandbox)
		if err != nil {
			continue
		}
		if abs, err := filepath.Abs(rn.sandbox); err == nil {
			doc[abs] = real
		}
		doc[virtualRunPath(rn.fw, rn.ex)] = real
		if agentID != "" {
			doc[filepath.Join(a.slavesDir(), agentID, "frameworks", rn.fw, "executors", rn.ex, "runs", "latest")] = real
		}
	}
	if a.cfg.LogFile != "" {
		doc["/slave/log"] = a.cfg.LogFile
	}
	return legacy.Write(w, r, doc)
}

// virtualRunPath is Mesos' virtual path of an executor's latest run:
// /frameworks/<fw>/executors/<ex>/runs/latest.
func virtualRunPath(fwID, exID string) string {
	return "/frameworks/" + fwID + "/executors/" + exID + "/runs/latest"
}

// slavesDir is <work_dir>/slaves, absolute: where every sandbox lives.
func (a *Agent) slavesDir() string {
	dir := filepath.Join(a.cfg.WorkDir, "slaves")
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// resolveFilePath maps a requested path (see the comment at the top of
// this file) to its run directory, with symlinks resolved, and the path
// below it (opened beneath it by the file server). Errors are
// *httpapi.Error: 404 for a path that is not served or whose run
// directory does not exist, 400 for a run directory outside the work
// directory or one that cannot be resolved.
func (a *Agent) resolveFilePath(requested string) (files.Target, error) {
	p := files.Clean(requested)
	if p == "/slave/log" {
		return a.logFile()
	}
	base, rest, ok := a.runDir(p)
	if !ok {
		return files.Target{}, files.NotFound()
	}
	root, found, err := files.Canonical(base)
	if err != nil {
		return files.Target{}, err
	}
	if !found {
		return files.Target{}, files.NotFound()
	}
	if !files.Within(root, a.realSlavesDir()) {
		return files.Target{}, httpapi.BadRequest("'%s' is inaccessible.\n", requested)
	}
	return files.Target{Root: root, Rel: strings.Join(rest, "/")}, nil
}

// runDir splits p, absolute with no trailing slash, into the run
// directory it is in, as a path that may hold symlinks (a runs/latest),
// and the components below it. ok is false when p names no run directory.
func (a *Agent) runDir(p string) (base string, rest []string, ok bool) {
	// The virtual path of the current agent's latest run.
	if tail, isVirtual := strings.CutPrefix(p, "/frameworks/"); isVirtual {
		t := strings.Split(tail, "/")
		if len(t) < 5 || !files.ValidID(t[0]) || t[1] != "executors" || !files.ValidID(t[2]) || t[3] != "runs" || t[4] != "latest" {
			return "", nil, false
		}
		agentID := a.ID()
		if agentID == "" {
			return "", nil, false
		}
		return filepath.Join(a.slavesDir(), agentID, "frameworks", t[0], "executors", t[2], "runs", "latest"), t[5:], true
	}
	// A real path, under the work directory as configured or as it is
	// with its symlinks resolved.
	for _, slaves := range []string{a.slavesDir(), a.realSlavesDir()} {
		tail, isReal := strings.CutPrefix(p, slaves+"/")
		if !isReal {
			continue
		}
		t := strings.Split(tail, "/")
		if len(t) < 7 || !files.ValidID(t[0]) || t[1] != "frameworks" || !files.ValidID(t[2]) ||
			t[3] != "executors" || !files.ValidID(t[4]) || t[5] != "runs" || !files.ValidID(t[6]) {
			return "", nil, false
		}
		return filepath.Join(slaves, t[0], t[1], t[2], t[3], t[4], t[5], t[6]), t[7:], true
	}
	return "", nil, false
}

// logFile resolves /slave/log: the agent's log file (Config.LogFile),
// 404 with a message when it has none.
func (a *Agent) logFile() (files.Target, error) {
	if a.cfg.LogFile == "" {
		return files.Target{}, &httpapi.Error{Status: http.StatusNotFound, Message: "/slave/log: this agent writes no log file (start it with --log_dir)\n"}
	}
	real, found, err := files.Canonical(a.cfg.LogFile)
	if err != nil {
		return files.Target{}, err
	}
	if !found {
		return files.Target{}, files.NotFound()
	}
	return files.Target{Root: filepath.Dir(real), Rel: filepath.Base(real)}, nil
}

// realSlavesDir is slavesDir with symlinks resolved (slavesDir itself
// when it does not exist yet).
func (a *Agent) realSlavesDir() string {
	dir := a.slavesDir()
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		return real
	}
	return dir
}

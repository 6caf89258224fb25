package agent

import (
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
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
//   - anything else is 404, as an unattached path is in Mesos.
//
// The run directory is the root the answer must stay in: after symlinks
// and ".." are resolved (filepath.EvalSymlinks) a target outside it is
// refused with 400, as Mesos refuses a path that leaves its attached
// directory. A task can thus not read /etc/shadow through a symlink in
// its sandbox, nor another run's sandbox.
//
// Like Mesos' endpoints, these answer every method and ignore a trailing
// path after the endpoint's name. Every file operation runs on the
// request's goroutine; only /files/debug visits the state goroutine.

// filesMaxRead is the most /files/read returns in one answer: 16 memory
// pages (64 KiB with 4 KiB pages), Mesos' cap.
var filesMaxRead = int64(os.Getpagesize()) * 16

// routeFiles registers the /files endpoints on the agent's mux.
func (a *Agent) routeFiles() {
	for path, h := range map[string]httpapi.HandlerFunc{
		"/files/browse":   a.serveFilesBrowse,
		"/files/read":     a.serveFilesRead,
		"/files/download": a.serveFilesDownload,
		"/files/debug":    a.serveFilesDebug,
	} {
		handler := httpapi.Wrap(a.log, h)
		a.mux.Handle(path, handler)
		a.mux.Handle(path+"/", handler)
	}
}

// serveFilesBrowse is /files/browse: the entries of the directory at
// ?path=, sorted by name, each named by the path as requested joined with
// the entry's name. Entries are stat'ed through symlinks; one whose stat
// fails (a dangling link) is left out. A path naming a file, rather than
// a directory, lists nothing ([]), as in Mesos.
func (a *Agent) serveFilesBrowse(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	requested, err := filesPathParam(q)
	if err != nil {
		return err
	}
	dir, err := a.resolveFilePath(requested)
	if err != nil {
		return err
	}
	listing := legacy.FileListing{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, syscall.ENOTDIR) {
			a.log.Warn("files: cannot list directory", "path", dir, "err", err)
		}
		return legacy.Write(w, r, listing)
	}
	names := ownerNames{}
	base := strings.TrimSuffix(requested, "/")
	for _, e := range entries {
		full := filepath.Join(dir, e.Name())
		fi, err := os.Stat(full)
		if err != nil {
			a.log.Warn("files: listed entry cannot be stat'ed", "path", full, "err", err)
			continue
		}
		listing = append(listing, names.fileInfo(base+"/"+e.Name(), fi))
	}
	return legacy.Write(w, r, listing)
}

// serveFilesRead is /files/read: at most filesMaxRead bytes of the file
// at ?path=, from ?offset= for ?length= bytes (to the end when length is
// absent or -1). Without an offset, or with offset=-1, it reads nothing
// and answers the file's size as the offset, which is how the web UI
// learns a file's length. An offset at or past the end answers no data
// at the requested offset. Offsets and lengths below -1, or not numbers,
// are 400, checked before the path is resolved; a directory is 400.
func (a *Agent) serveFilesRead(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	requested, err := filesPathParam(q)
	if err != nil {
		return err
	}
	offset, err := filesIntParam(q, "offset")
	if err != nil {
		return err
	}
	length, err := filesIntParam(q, "length")
	if err != nil {
		return err
	}
	start := offset
	if offset == -1 {
		start, length = 0, 0
	}
	path, err := a.resolveFilePath(requested)
	if err != nil {
		return err
	}
	size, data, err := readFileChunk(path, start, length)
	if err != nil {
		return err
	}
	if offset == -1 {
		offset = size
	}
	return legacy.Write(w, r, legacy.FileData{Data: string(data), Offset: offset})
}

// readFileChunk reads up to length bytes (all to the end when length is
// -1, never more than filesMaxRead) of the file at path from offset, and
// returns the file's size with them. Errors are *httpapi.Error.
func readFileChunk(path string, offset, length int64) (int64, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, fileOpenError(path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, nil, httpapi.Errorf(http.StatusInternalServerError, "Failed to stat file at '%s': %v.\n", path, err)
	}
	if fi.IsDir() {
		return 0, nil, httpapi.BadRequest("Cannot read a directory.\n")
	}
	// The size is where the file ends, as seeking there finds it (a
	// block device has no size in its stat).
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, nil, httpapi.Errorf(http.StatusInternalServerError, "Failed to seek file at '%s': %v.\n", path, err)
	}
	if offset >= size {
		return size, nil, nil
	}
	if length == -1 {
		length = size - offset
	}
	length = min(length, filesMaxRead)
	if length == 0 {
		return size, nil, nil
	}
	buf := make([]byte, length)
	n, err := f.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, nil, httpapi.Errorf(http.StatusInternalServerError, "Failed to read file at '%s': %v.\n", path, err)
	}
	return size, buf[:n], nil
}

// serveFilesDownload is /files/download: the bytes of the file at ?path=
// as an attachment named after the file (the resolved file, when the path
// is a symlink), typed by its extension as Mesos types it
// (application/octet-stream when unknown). A directory is 400.
func (a *Agent) serveFilesDownload(w http.ResponseWriter, r *http.Request) error {
	requested, err := filesPathParam(r.URL.Query())
	if err != nil {
		return err
	}
	path, err := a.resolveFilePath(requested)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fileOpenError(path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return httpapi.Errorf(http.StatusInternalServerError, "Failed to stat file at '%s': %v.\n", path, err)
	}
	if fi.IsDir() {
		return httpapi.BadRequest("Cannot download a directory.\n")
	}
	h := w.Header()
	h.Set("Content-Type", downloadMediaType(path))
	h.Set("Content-Disposition", "attachment; filename="+filepath.Base(path))
	var body io.Reader = f
	if fi.Mode().IsRegular() {
		// The file as it is now: a stdout that keeps growing is cut at
		// the size it had, as Mesos sends it.
		h.Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
		body = io.LimitReader(f, fi.Size())
	}
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, body); err != nil {
		a.log.Debug("files: download cut short", "path", path, "err", err)
	}
	return nil
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
// this file) to the real file it names, with symlinks resolved. Errors
// are *httpapi.Error: 404 for a path that is not served or does not
// exist, 400 for one that leaves its run directory or cannot be resolved.
func (a *Agent) resolveFilePath(requested string) (string, error) {
	p := strings.TrimPrefix(requested, "file://")
	for len(p) > 1 && strings.HasSuffix(p, "/") {
		p = strings.TrimSuffix(p, "/")
	}
	base, rest, ok := a.runDir(p)
	if !ok {
		return "", filesNotFound()
	}
	root, found, err := canonicalPath(base)
	if err != nil {
		return "", err
	}
	if !found {
		return "", filesNotFound()
	}
	if !pathWithin(root, a.realSlavesDir()) {
		return "", httpapi.BadRequest("'%s' is inaccessible.\n", requested)
	}
	if len(rest) == 0 {
		return root, nil
	}
	target, found, err := canonicalPath(root + "/" + strings.Join(rest, "/"))
	if err != nil {
		return "", err
	}
	if !found {
		return "", filesNotFound()
	}
	if !pathWithin(target, root) {
		return "", httpapi.BadRequest("'%s' is inaccessible.\n", requested)
	}
	return target, nil
}

// runDir splits p, absolute with no trailing slash, into the run
// directory it is in, as a path that may hold symlinks (a runs/latest),
// and the components below it. ok is false when p names no run directory.
func (a *Agent) runDir(p string) (base string, rest []string, ok bool) {
	// The virtual path of the current agent's latest run.
	if tail, isVirtual := strings.CutPrefix(p, "/frameworks/"); isVirtual {
		t := strings.Split(tail, "/")
		if len(t) < 5 || !validPathID(t[0]) || t[1] != "executors" || !validPathID(t[2]) || t[3] != "runs" || t[4] != "latest" {
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
		if len(t) < 7 || !validPathID(t[0]) || t[1] != "frameworks" || !validPathID(t[2]) ||
			t[3] != "executors" || !validPathID(t[4]) || t[5] != "runs" || !validPathID(t[6]) {
			return "", nil, false
		}
		return filepath.Join(slaves, t[0], t[1], t[2], t[3], t[4], t[5], t[6]), t[7:], true
	}
	return "", nil, false
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

// validPathID reports whether s can be one id component of a sandbox
// path: not empty, not "." or "..".
func validPathID(s string) bool {
	return s != "" && s != "." && s != ".."
}

// canonicalPath resolves symlinks and ".." in p. found is false when p,
// or a directory on the way, does not exist (or is not a directory);
// other failures are a 400, as Mesos answers them.
func canonicalPath(p string) (real string, found bool, err error) {
	real, err = filepath.EvalSymlinks(p)
	switch {
	case err == nil:
		return real, true, nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return "", false, nil
	default:
		return "", false, httpapi.BadRequest("Failed to determine canonical path of '%s': %v.\n", p, err)
	}
}

// pathWithin reports whether p is root or below it (both clean).
func pathWithin(p, root string) bool {
	return p == root || strings.HasPrefix(p, strings.TrimSuffix(root, "/")+"/")
}

// filesNotFound is Mesos' answer to a path it does not serve: 404 with
// no body.
func filesNotFound() error {
	return &httpapi.Error{Status: http.StatusNotFound}
}

// fileOpenError answers a file that resolved but cannot be opened: 404
// when it went away since, 500 otherwise (Mesos' "unknown" failure).
func fileOpenError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return filesNotFound()
	}
	return httpapi.Errorf(http.StatusInternalServerError, "Failed to open file at '%s': %v.\n", path, err)
}

// filesPathParam returns the required ?path= query parameter: 400 when
// it is absent or empty.
func filesPathParam(q url.Values) (string, error) {
	p := q.Get("path")
	if p == "" {
		return "", httpapi.BadRequest("Expecting 'path=value' in query.\n")
	}
	return p, nil
}

// filesIntParam returns /files/read's numeric query parameter name: -1
// when absent, 400 when it is not an integer or is below -1. Like Mesos
// it reads decimal, or hexadecimal with a 0x prefix.
func filesIntParam(q url.Values, name string) (int64, error) {
	if !q.Has(name) {
		return -1, nil
	}
	s := q.Get(name)
	v, ok := parseFilesInt(s)
	if !ok {
		return 0, httpapi.BadRequest("Failed to parse %s: Failed to convert '%s' to number.\n", name, s)
	}
	if v < -1 {
		return 0, httpapi.BadRequest("Negative %s provided: %d.\n", name, v)
	}
	return v, nil
}

// parseFilesInt reads a signed decimal integer, or a hexadecimal one
// after "0x" (or "-0x").
func parseFilesInt(s string) (int64, bool) {
	neg := false
	digits := s
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		neg, digits = true, rest
	}
	for _, prefix := range []string{"0x", "0X"} {
		if hex, ok := strings.CutPrefix(digits, prefix); ok {
			if hex == "" || strings.ContainsAny(hex, "+-_") {
				return 0, false
			}
			v, err := strconv.ParseInt(hex, 16, 64)
			if err != nil {
				return 0, false
			}
			if neg {
				v = -v
			}
			return v, true
		}
	}
	if strings.Contains(s, "_") {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// ownerNames caches user and group names by id for one listing.
type ownerNames struct {
	users, groups map[uint32]string
}

// fileInfo describes fi, found at the requested path p, as Mesos'
// FileInfo JSON model does.
func (n *ownerNames) fileInfo(p string, fi os.FileInfo) legacy.FileInfo {
	info := legacy.FileInfo{
		Path:  p,
		Mode:  modeString(fi.Mode()),
		MTime: legacy.Float(fi.ModTime().Unix()),
		Size:  uint64(max(fi.Size(), 0)),
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		info.NLink = int32(st.Nlink)
		info.UID = n.user(st.Uid)
		info.GID = n.group(st.Gid)
	}
	return info
}

// user is the name of user id uid, or the id in decimal when it has none.
func (n *ownerNames) user(uid uint32) string {
	if name, ok := n.users[uid]; ok {
		return name
	}
	id := strconv.FormatUint(uint64(uid), 10)
	name := id
	if u, err := user.LookupId(id); err == nil {
		name = u.Username
	}
	if n.users == nil {
		n.users = map[uint32]string{}
	}
	n.users[uid] = name
	return name
}

// group is the name of group id gid, or the id in decimal when it has
// none.
func (n *ownerNames) group(gid uint32) string {
	if name, ok := n.groups[gid]; ok {
		return name
	}
	id := strconv.FormatUint(uint64(gid), 10)
	name := id
	if g, err := user.LookupGroupId(id); err == nil {
		name = g.Name
	}
	if n.groups == nil {
		n.groups = map[uint32]string{}
	}
	n.groups[gid] = name
	return name
}

// modeString writes m as `ls -l` does in Mesos' listing: a type letter
// (-, d, c, b, p, l, s) and rwx for owner, group and others. Set-id and
// sticky bits are not shown.
func modeString(m fs.FileMode) string {
	var b [10]byte
	switch {
	case m.IsDir():
		b[0] = 'd'
	case m&fs.ModeCharDevice != 0:
		b[0] = 'c'
	case m&fs.ModeDevice != 0:
		b[0] = 'b'
	case m&fs.ModeNamedPipe != 0:
		b[0] = 'p'
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case m&fs.ModeSocket != 0:
		b[0] = 's'
	default:
		b[0] = '-'
	}
	const rwx = "rwxrwxrwx"
	perm := m.Perm()
	for i := range 9 {
		if perm&(1<<(8-i)) != 0 {
			b[i+1] = rwx[i]
		} else {
			b[i+1] = '-'
		}
	}
	return string(b[:])
}

// downloadMediaType is the Content-Type of a downloaded file, from its
// extension as the system's MIME table (and Go's built-in one) knows it,
// without parameters ("text/html"), as Mesos answers; for any other,
// application/octet-stream.
func downloadMediaType(path string) string {
	t, _, _ := strings.Cut(mime.TypeByExtension(filepath.Ext(path)), ";")
	if t = strings.TrimSpace(t); t == "" {
		return "application/octet-stream"
	}
	return t
}

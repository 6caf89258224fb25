// Package files serves files the way Mesos' "files" process does
// (src/files/files.cpp), for the agent and the master alike:
//
//	/files/browse?path=P                   a directory's entries (legacy.FileListing)
//	/files/read?path=P&offset=O&length=L   a chunk of a file (legacy.FileData)
//	/files/download?path=P                 a file's bytes, as an attachment
//
// and the operator API's LIST_FILES and READ_FILE (Server.List and
// Server.ReadFile). What a path names is the caller's business: a Server
// asks its Virtual function whether a path is a virtual directory (one
// with no directory behind it, listed from the process's own books, such
// as the master's "/agents") and otherwise its Resolve function for the
// real file, confined to what the process attached. Errors are
// *httpapi.Error carrying Mesos' status codes: 400 for bad parameters or
// a path that leaves its attached root, 404 for a path that is not
// served or does not exist, 500 for a file that cannot be read.
//
// The query checks (ReadQuery, PathParam) are exported so that a process
// that forwards a request elsewhere (the master, to an agent) refuses bad
// input the same way before it forwards it.
package files

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/api/v1/mesos"

	"slices"
)

// MaxRead is the most one read returns: 16 memory pages (64 KiB with
// 4 KiB pages), Mesos' cap.
var MaxRead = int64(os.Getpagesize()) * 16

// Entry is one entry of a virtual directory.
type Entry struct {
	// Path is the entry's path as clients name it ("/master/log").
	Path string
	// Real is the file or directory the entry stands for, described by
	// its stat (an entry whose stat fails is left out); empty for a
	// virtual directory.
	Real string
}

// Target is what a requested path names: Rel, a slash-separated path
// relative to the directory Root ("" for Root itself). Root is trusted
// (the process made it, or was told it); Rel is not: it is opened
// beneath Root in one step (os.Root, openat2-style), so that no symlink
// or ".." in it leads outside Root, whatever a task swaps the files for
// while the request runs.
type Target struct {
	Root, Rel string
}

// path is t's path as a name (for messages and media types).
func (t Target) path() string { return filepath.Join(t.Root, t.Rel) }

// rel is Rel as os.Root takes it.
func (t Target) rel() string {
	if t.Rel == "" {
		return "."
	}
	return t.Rel
}

// Server serves files over one process's attached paths. Its fields are
// set once before use; its methods may be called from any goroutine.
type Server struct {
	// Resolve maps a requested path to the file it names, beneath its
	// attached root. Its errors are *httpapi.Error (NotFound for a path
	// it does not serve).
	Resolve func(requested string) (Target, error)
	// Virtual, when set, lists the virtual directory at p (absolute,
	// clean, no trailing slash); ok is false when p is none, and Resolve
	// decides. Its errors are *httpapi.Error.
	Virtual func(p string) (entries []Entry, ok bool, err error)
	// Started is the modification time given to virtual directories
	// (the process's start).
	Started time.Time
	// Log receives the warnings of listings (entries that cannot be
	// stat'ed).
	Log *slog.Logger
}

// Clean is the form of a requested path that Virtual is asked about: a
// "file://" prefix and trailing slashes removed.
func Clean(requested string) string {
	p := strings.TrimPrefix(requested, "file://")
	for len(p) > 1 && strings.HasSuffix(p, "/") {
		p = strings.TrimSuffix(p, "/")
	}
	return p
}

// virtual asks Virtual about requested.
func (s *Server) virtual(requested string) ([]Entry, bool, error) {
	if s.Virtual == nil {
		return nil, false, nil
	}
	return s.Virtual(Clean(requested))
}

// Browse is /files/browse: the entries of the directory at ?path=, sorted
// by name, each named by the path as requested joined with the entry's
// name. Entries are stat'ed through symlinks; one whose stat fails (a
// dangling link) is left out. A path naming a file, rather than a
// directory, lists nothing ([]), as in Mesos.
func (s *Server) Browse(w http.ResponseWriter, r *http.Request) error {
	requested, err := PathParam(r.URL.Query())
	if err != nil {
		return err
	}
	listing := legacy.FileListing{}
	err = s.walk(requested, func(p string, fi os.FileInfo, names *ownerNames) {
		listing = append(listing, names.fileInfo(p, fi))
	})
	if err != nil {
		return err
	}
	return legacy.Write(w, r, listing)
}

// List is LIST_FILES: Browse's entries as Mesos' FileInfo messages.
func (s *Server) List(requested string) ([]*mesos.FileInfo, error) {
	var out []*mesos.FileInfo
	err := s.walk(requested, func(p string, fi os.FileInfo, names *ownerNames) {
		out = append(out, names.fileInfoProto(p, fi))
	})
	return out, err
}

// walk calls add for each entry of the directory requested, in name
// order (a virtual directory's in its own order).
func (s *Server) walk(requested string, add func(p string, fi os.FileInfo, names *ownerNames)) error {
	names := &ownerNames{}
	entries, ok, err := s.virtual(requested)
	if err != nil {
		return err
	}
	if ok {
		for _, e := range entries {
			if e.Real == "" {
				add(e.Path, virtualDir{name: filepath.Base(e.Path), mtime: s.Started}, names)
				continue
			}
			fi, err := os.Stat(e.Real)
			if err != nil {
				s.warn("files: attached entry cannot be stat'ed", "path", e.Real, "err", err)
				continue
			}
			add(e.Path, fi, names)
		}
		return nil
	}
	t, err := s.Resolve(requested)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(t.Root)
	if err != nil {
		return openError(t, requested, err)
	}
	defer root.Close()
	dir, err := root.Open(t.rel())
	if err != nil {
		return openError(t, requested, err)
	}
	des, err := dir.ReadDir(-1)
	dir.Close()
	if err != nil {
		if !errors.Is(err, syscall.ENOTDIR) {
			s.warn("files: cannot list directory", "path", t.path(), "err", err)
		}
		return nil
	}
	slices.SortFunc(des, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	base := strings.TrimSuffix(Clean(requested), "/")
	realRoot, _, _ := Canonical(t.Root)
	for _, e := range des {
		// Stat'ed beneath the root too: a symlink that leads outside it
		// is described as the link it is, its target's size, owner and
		// times untold; a dangling one is left out.
		rel := path.Join(t.rel(), e.Name())
		fi, err := root.Stat(rel)
		if err != nil && escapes(filepath.Join(t.Root, rel), realRoot) {
			fi, err = root.Lstat(rel)
		}
		if err != nil {
			s.debug("files: listed entry left out", "path", path.Join(t.path(), e.Name()), "err", err)
			continue
		}
		add(base+"/"+e.Name(), fi, names)
	}
	return nil
}

// escapes says whether p exists and resolves outside root (both
// absolute, root with its symlinks resolved). It only picks how an entry
// is described; what is read was decided by os.Root.
func escapes(p, root string) bool {
	real, found, _ := Canonical(p)
	return found && !Within(real, root)
}

func (s *Server) debug(msg string, args ...any) {
	if s.Log != nil {
		s.Log.Debug(msg, args...)
	}
}

// open opens t beneath its root.
func (t Target) open(requested string) (*os.File, error) {
	root, err := os.OpenRoot(t.Root)
	if err != nil {
		return nil, openError(t, requested, err)
	}
	defer root.Close()
	f, err := root.Open(t.rel())
	if err != nil {
		return nil, openError(t, requested, err)
	}
	return f, nil
}

// realName is the name of the file f has open, as the kernel knows it
// (no race with a rename or a swapped symlink); fallback when unknown.
func realName(f *os.File, fallback string) string {
	if p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd()))); err == nil && filepath.IsAbs(p) {
		return p
	}
	return fallback
}

func (s *Server) warn(msg string, args ...any) {
	if s.Log != nil {
		s.Log.Warn(msg, args...)
	}
}

// resolveFile resolves a path that must name a file: a virtual directory
// is what to do.
func (s *Server) resolveFile(requested, what string) (Target, error) {
	if _, ok, err := s.virtual(requested); err != nil {
		return Target{}, err
	} else if ok {
		return Target{}, httpapi.BadRequest("Cannot %s a directory.\n", what)
	}
	return s.Resolve(requested)
}

// ReadParams are /files/read's query parameters.
type ReadParams struct {
	// Path is the requested path, as given.
	Path string
	// Offset is where to read from; -1 (also when absent) asks for the
	// size only.
	Offset int64
	// Length is how much to read; -1 (also when absent) to the end.
	Length int64
}

// ReadQuery checks /files/read's query parameters as Mesos does: path
// present, offset and length integers (decimal, or hexadecimal after 0x)
// not below -1. Errors are 400s that name the parameter.
func ReadQuery(q url.Values) (ReadParams, error) {
	p, err := PathParam(q)
	if err != nil {
		return ReadParams{}, err
	}
	offset, err := intParam(q, "offset")
	if err != nil {
		return ReadParams{}, err
	}
	length, err := intParam(q, "length")
	if err != nil {
		return ReadParams{}, err
	}
	return ReadParams{Path: p, Offset: offset, Length: length}, nil
}

// Read is /files/read: at most MaxRead bytes of the file at ?path=, from
// ?offset= for ?length= bytes (to the end when length is absent or -1).
// Without an offset, or with offset=-1, it reads nothing and answers the
// file's size as the offset, which is how the web UI learns a file's
// length. An offset at or past the end answers no data at the requested
// offset. Offsets and lengths below -1, or not numbers, are 400, checked
// before the path is resolved; a directory is 400.
func (s *Server) Read(w http.ResponseWriter, r *http.Request) error {
	rp, err := ReadQuery(r.URL.Query())
	if err != nil {
		return err
	}
	offset, length := rp.Offset, rp.Length
	start := offset
	if offset == -1 {
		start, length = 0, 0
	}
	t, err := s.resolveFile(rp.Path, "read")
	if err != nil {
		return err
	}
	size, data, err := readChunk(t, rp.Path, start, length)
	if err != nil {
		return err
	}
	if offset == -1 {
		offset = size
	}
	return legacy.Write(w, r, legacy.FileData{Data: string(data), Offset: offset})
}

// ReadFile is READ_FILE: at most MaxRead bytes of the file at requested
// from offset, for length bytes (to the end when nil), with the file's
// size. Reading at or past the end, or a length of 0, answers no data
// (an empty, not nil, slice).
func (s *Server) ReadFile(requested string, offset uint64, length *uint64) (uint64, []byte, error) {
	t, err := s.resolveFile(requested, "read")
	if err != nil {
		return 0, nil, err
	}
	n := int64(-1)
	if length != nil {
		n = int64(min(*length, math.MaxInt64))
	}
	size, data, err := readChunk(t, requested, int64(min(offset, math.MaxInt64)), n)
	if err != nil {
		return 0, nil, err
	}
	if data == nil {
		data = []byte{}
	}
	return uint64(size), data, nil
}

// readChunk reads up to length bytes (all to the end when length is -1,
// never more than MaxRead) of the file t names from offset, and returns
// the file's size with them. Errors are *httpapi.Error.
func readChunk(t Target, requested string, offset, length int64) (int64, []byte, error) {
	f, err := t.open(requested)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	path := t.path()
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
	length = min(length, MaxRead)
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

// Download is /files/download: the bytes of the file at ?path= as an
// attachment named after the file (the resolved file, when the path is a
// symlink), typed by its extension as Mesos types it
// (application/octet-stream when unknown). A directory is 400.
func (s *Server) Download(w http.ResponseWriter, r *http.Request) error {
	requested, err := PathParam(r.URL.Query())
	if err != nil {
		return err
	}
	t, err := s.resolveFile(requested, "download")
	if err != nil {
		return err
	}
	f, err := t.open(requested)
	if err != nil {
		return err
	}
	defer f.Close()
	path := realName(f, t.path())
	fi, err := f.Stat()
	if err != nil {
		return httpapi.Errorf(http.StatusInternalServerError, "Failed to stat file at '%s': %v.\n", path, err)
	}
	if fi.IsDir() {
		return httpapi.BadRequest("Cannot download a directory.\n")
	}
	h := w.Header()
	h.Set("Content-Type", MediaType(path))
	h.Set("Content-Disposition", "attachment; filename="+filepath.Base(path))
	var body io.Reader = f
	if fi.Mode().IsRegular() {
		// The file as it is now: a stdout that keeps growing is cut at
		// the size it had, as Mesos sends it.
		h.Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
		body = io.LimitReader(f, fi.Size())
	}
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, body); err != nil && s.Log != nil {
		s.Log.Debug("files: download cut short", "path", path, "err", err)
	}
	return nil
}

// PathParam returns the required ?path= query parameter: 400 when it is
// absent or empty.
func PathParam(q url.Values) (string, error) {
	p := q.Get("path")
	if p == "" {
		return "", httpapi.BadRequest("Expecting 'path=value' in query.\n")
	}
	return p, nil
}

// intParam returns /files/read's numeric query parameter name: -1 when
// absent, 400 when it is not an integer or is below -1.
func intParam(q url.Values, name string) (int64, error) {
	if !q.Has(name) {
		return -1, nil
	}
	s := q.Get(name)
	v, ok := parseInt(s)
	if !ok {
		return 0, httpapi.BadRequest("Failed to parse %s: Failed to convert '%s' to number.\n", name, s)
	}
	if v < -1 {
		return 0, httpapi.BadRequest("Negative %s provided: %d.\n", name, v)
	}
	return v, nil
}

// parseInt reads a signed decimal integer, or a hexadecimal one after
// "0x" (or "-0x"), as Mesos' numify does.
func parseInt(s string) (int64, bool) {
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

// ValidID reports whether s can be one id component of a path: not
// empty, not "." or "..", without a slash.
func ValidID(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.Contains(s, "/")
}

// Canonical resolves symlinks and ".." in p. found is false when p, or a
// directory on the way, does not exist (or is not a directory); other
// failures are a 400, as Mesos answers them.
func Canonical(p string) (real string, found bool, err error) {
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

// Within reports whether p is root or below it (both clean).
func Within(p, root string) bool {
	return p == root || strings.HasPrefix(p, strings.TrimSuffix(root, "/")+"/")
}

// NotFound is Mesos' answer to a path it does not serve: 404 with no
// body.
func NotFound() error {
	return &httpapi.Error{Status: http.StatusNotFound}
}

// openError answers a target that cannot be opened beneath its root:
// 404 when it does not exist, 400 when it leads outside the root (a
// symlink or ".." out of it, as Mesos answers a path that leaves its
// attached directory), 500 otherwise (Mesos' "unknown" failure). The
// answer is told by resolving the path again, after the fact: it only
// picks the message; what is served was decided by the open.
func openError(t Target, requested string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return NotFound()
	}
	root, rootFound, _ := Canonical(t.Root)
	real, found, _ := Canonical(t.path())
	switch {
	case !rootFound || !found:
		return NotFound()
	case !Within(real, root):
		return httpapi.BadRequest("'%s' is inaccessible.\n", requested)
	}
	return httpapi.Errorf(http.StatusInternalServerError, "Failed to open file at '%s': %v.\n", t.path(), err)
}

// virtualDir is the os.FileInfo of a virtual directory: read-only, no
// size, owned by the serving process's user.
type virtualDir struct {
	name  string
	mtime time.Time
}

func (d virtualDir) Name() string       { return d.name }
func (d virtualDir) Size() int64        { return 0 }
func (d virtualDir) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (d virtualDir) ModTime() time.Time { return d.mtime }
func (d virtualDir) IsDir() bool        { return true }
func (d virtualDir) Sys() any {
	return &syscall.Stat_t{Nlink: 2, Mode: syscall.S_IFDIR | 0o555, Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
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
		Mode:  ModeString(fi.Mode()),
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

// fileInfoProto describes fi, found at path p, as Mesos' FileInfo
// message: st_mode with its file type bits, mtime in whole seconds (as
// nanoseconds), owner and group by name.
func (n *ownerNames) fileInfoProto(p string, fi os.FileInfo) *mesos.FileInfo {
	info := &mesos.FileInfo{
		Path:  proto.String(p),
		Size:  proto.Uint64(uint64(max(fi.Size(), 0))),
		Mtime: &mesos.TimeInfo{Nanoseconds: proto.Int64(fi.ModTime().Unix() * int64(time.Second))},
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		info.Nlink = proto.Int32(int32(st.Nlink))
		info.Mode = proto.Uint32(uint32(st.Mode))
		info.Uid = proto.String(n.user(st.Uid))
		info.Gid = proto.String(n.group(st.Gid))
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

// ModeString writes m as `ls -l` does in Mesos' listing: a type letter
// (-, d, c, b, p, l, s) and rwx for owner, group and others. Set-id and
// sticky bits are not shown.
func ModeString(m fs.FileMode) string {
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

// MediaType is the Content-Type of a downloaded file, from its extension
// as the system's MIME table (and Go's built-in one) knows it, without
// parameters ("text/html"), as Mesos answers; for any other,
// application/octet-stream.
func MediaType(path string) string {
	t, _, _ := strings.Cut(mime.TypeByExtension(filepath.Ext(path)), ";")
	if t = strings.TrimSpace(t); t == "" {
		return "application/octet-stream"
	}
	return t
}

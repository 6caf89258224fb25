package master

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/legacy"
	agentpb "github.com/mezzo-project/mezzo/api/v1/agent"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/acl"
	"github.com/mezzo-project/mezzo/internal/files"
	"github.com/mezzo-project/mezzo/internal/tlsutil"

	"path/filepath"
)

// The master's files, served as Mesos' "files" process serves them
// (/files/browse, /files/read, /files/download, /files/debug, also under
// /master/files/; the operator API's LIST_FILES and READ_FILE), with the
// agent's code (internal/files), over these paths:
//
//	/master/log         the master's log file (--log_dir; 404 naming the flag without it)
//	/agents/<id>/<rest> the registered agent <id>'s /<rest>, through that agent
//	/, /master, /agents  virtual directories listing the above
//
// /agents/<id>/<rest> is Mezzo's, not Mesos': the master forwards the
// request to agent <id>'s own /files/<op>?path=/<rest> (or its operator
// API's LIST_FILES and READ_FILE), so a client that reaches only the
// master can read every sandbox. A task's sandbox is
//
//	/agents/<agent>/frameworks/<fw>/executors/<ex>/runs/latest
//
// where <ex> is the task's executor id, or the task id for a command task
// (Mezzo names a command task's executor after it, as Mesos does); a task
// of a task group lives in .../runs/latest/tasks/<task>. The agent's own
// log is /agents/<agent>/slave/log. Agent answers come back with the
// agent's status; the entries of a listing are renamed under
// /agents/<id>. The master lists, as virtual directories, what leads to
// each sandbox it knows on the agent:
// /agents/<id>/frameworks/<fw>/executors/<ex>/runs (from its active
// executors and tasks and the completed tasks it keeps), and
// /agents/<id>/slave, which the agent lists.
//
// Paths are checked before anything is forwarded: absolute, no "." or
// ".." components (400), the agent id valid (400) and registered (404
// naming it); the agent then confines the rest to what it attached, as
// for its own clients. An agent that cannot be reached answers 503
// naming it, one that answers nonsense 502. Browse, read and the
// operator calls are bounded by filesProxyTimeout and filesProxyMaxBody;
// a download streams as long as the agent keeps sending, cut after
// filesProxyIdle without a byte.

// filesProxyTimeout bounds a forwarded browse, read, LIST_FILES or
// READ_FILE, and the wait for a download's headers.
const filesProxyTimeout = 15 * time.Second

// filesProxyIdle is how long a forwarded download may go without
// receiving a byte from the agent before it is cut.
const filesProxyIdle = 30 * time.Second

// filesProxyMaxBody bounds the answer of a forwarded browse, read,
// LIST_FILES or READ_FILE (a read returns at most 64 KiB of data).
const filesProxyMaxBody = 16 << 20

// newFilesClient is the HTTP client that forwards to agents: it dials
// within 5 s and waits filesProxyTimeout for an answer's headers; each
// call bounds the rest. With tlsConf it speaks https to agents.
func newFilesClient(tlsConf *tlsutil.Setup) *http.Client {
	return &http.Client{
		Transport: tlsConf.Configure(&http.Transport{
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			ResponseHeaderTimeout: filesProxyTimeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
		}),
		// An agent answers; it does not send the master elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// newFileServer is the server of the master's own files (/master/log
// and the virtual directories).
func (m *Master) newFileServer() *files.Server {
	return &files.Server{Resolve: m.resolveFilePath, Virtual: m.filesVirtual, Started: m.clock.Now(), Log: m.log}
}

// agentFile is a requested path under /agents/<id>: the agent, where it
// listens, and the path on it (rest, "/" for the agent itself).
type agentFile struct {
	id, addr, rest string
}

// filesPath checks a requested path: absolute, without "." or ".."
// components; it returns it clean (no trailing slash, no empty
// components).
func filesPath(requested string) (string, error) {
	p := files.Clean(requested)
	if !strings.HasPrefix(p, "/") {
		return "", httpapi.BadRequest("Path '%s' must be absolute.\n", requested)
	}
	var parts []string
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "":
		case ".", "..":
			return "", httpapi.BadRequest("Path '%s' must not contain '.' or '..' components.\n", requested)
		default:
			parts = append(parts, c)
		}
	}
	return "/" + strings.Join(parts, "/"), nil
}

// filesTarget checks requested (filesPath) and, for a path under
// /agents/<id>/ that the master does not list itself, returns the agent
// to forward it to (ok). The agent must be registered: 404 naming it
// otherwise.
func (m *Master) filesTarget(ctx context.Context, requested string) (agentFile, bool, error) {
	p, err := filesPath(requested)
	if err != nil {
		return agentFile{}, false, err
	}
	tail, ok := strings.CutPrefix(p, "/agents/")
	if !ok {
		return agentFile{}, false, nil
	}
	id, rest, _ := strings.Cut(tail, "/")
	if err := validateID(id); err != nil {
		return agentFile{}, false, httpapi.BadRequest("Invalid agent id in path '%s': %v.\n", requested, err)
	}
	s, err := m.read(ctx)
	if err != nil {
		return agentFile{}, false, unavailable(err)
	}
	a := s.view.agents[id]
	if a == nil {
		return agentFile{}, false, httpapi.Errorf(http.StatusNotFound, "Agent '%s' is not registered with this master.\n", id)
	}
	if _, virtual := agentDirs(s.view, a, "/"+rest); virtual {
		return agentFile{}, false, nil
	}
	return agentFile{id: id, addr: net.JoinHostPort(a.ip, strconv.Itoa(a.port)), rest: "/" + rest}, true, nil
}

// resolveFilePath resolves the master's own files: /master/log alone.
func (m *Master) resolveFilePath(requested string) (files.Target, error) {
	p, err := filesPath(requested)
	if err != nil {
		return files.Target{}, err
	}
	if p != "/master/log" {
		return files.Target{}, files.NotFound()
	}
	if m.cfg.LogFile == "" {
		return files.Target{}, httpapi.Errorf(http.StatusNotFound, "/master/log: this master writes no log file (start it with --log_dir).\n")
	}
	real, found, err := files.Canonical(m.cfg.LogFile)
	if err != nil {
		return files.Target{}, err
	}
	if !found {
		return files.Target{}, files.NotFound()
	}
	return files.Target{Root: filepath.Dir(real), Rel: filepath.Base(real)}, nil
}

// filesVirtual lists the master's virtual directories: "/", "/master",
// "/agents", and the levels above each sandbox of an agent (agentDirs).
func (m *Master) filesVirtual(p string) ([]files.Entry, bool, error) {
	p, err := filesPath(p)
	if err != nil {
		return nil, false, err
	}
	switch p {
	case "/":
		return []files.Entry{{Path: "/agents"}, {Path: "/master"}}, true, nil
	case "/master":
		if m.cfg.LogFile == "" {
			return []files.Entry{}, true, nil
		}
		return []files.Entry{{Path: "/master/log", Real: m.cfg.LogFile}}, true, nil
	}
	s, err := m.read(context.Background())
	if err != nil {
		return nil, false, unavailable(err)
	}
	if p == "/agents" {
		ids := make([]string, 0, len(s.view.agents))
		for id := range s.view.agents {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		out := make([]files.Entry, len(ids))
		for i, id := range ids {
			out[i] = files.Entry{Path: "/agents/" + id}
		}
		return out, true, nil
	}
	tail, ok := strings.CutPrefix(p, "/agents/")
	if !ok {
		return nil, false, nil
	}
	id, rest, _ := strings.Cut(tail, "/")
	a := s.view.agents[id]
	if a == nil {
		return nil, false, nil
	}
	names, ok := agentDirs(s.view, a, "/"+rest)
	if !ok {
		return nil, false, nil
	}
	out := make([]files.Entry, len(names))
	base := strings.TrimSuffix(p, "/")
	for i, n := range names {
		out[i] = files.Entry{Path: base + "/" + n}
	}
	return out, true, nil
}

// agentDirs lists the virtual directory rest ("/" or below) of agent a:
// "frameworks" and "slave" at its top, then framework ids, "executors",
// executor ids, "runs" and "latest" for each sandbox the master knows on
// it: the executors it books there, and the executor (its id, or the
// task id for a command task) of each task it books there, active or
// among the completed tasks it keeps. ok is false for any other path,
// which the agent answers.
func agentDirs(v *core, a *agent, rest string) (names []string, ok bool) {
	if rest == "/" || rest == "" {
		return []string{"frameworks", "slave"}, true
	}
	t, isFw := strings.CutPrefix(rest, "/frameworks")
	if !isFw || (t != "" && t[0] != '/') {
		return nil, false
	}
	var parts []string
	if t != "" {
		parts = strings.Split(t[1:], "/")
	}
	if len(parts) > 4 || (len(parts) > 1 && parts[1] != "executors") || (len(parts) > 3 && parts[3] != "runs") {
		return nil, false
	}
	runs := agentSandboxes(v, a)
	set := map[string]bool{}
	for _, r := range runs {
		if len(parts) > 0 && r[0] != parts[0] || len(parts) > 2 && r[1] != parts[2] {
			continue
		}
		switch len(parts) {
		case 0:
			set[r[0]] = true
		case 1:
			set["executors"] = true
		case 2:
			set[r[1]] = true
		case 3:
			set["runs"] = true
		case 4:
			set["latest"] = true
		}
	}
	if len(set) == 0 && len(parts) > 0 {
		return nil, false
	}
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, true
}

// agentSandboxes are the (framework id, executor id) pairs of the
// sandboxes the master knows on agent a.
func agentSandboxes(v *core, a *agent) [][2]string {
	var out [][2]string
	for fw, byID := range a.executors {
		for ex := range byID {
			out = append(out, [2]string{fw, ex})
		}
	}
	add := func(t *mesos.Task) {
		ex := t.GetExecutorId().GetValue()
		if ex == "" {
			ex = t.GetTaskId().GetValue()
		}
		out = append(out, [2]string{t.GetFrameworkId().GetValue(), ex})
	}
	for _, byID := range a.tasks {
		for _, t := range byID {
			add(t.pb)
		}
	}
	completed := func(f *framework) {
		for _, t := range f.completedTasks {
			if t.GetAgentId().GetValue() == a.id {
				add(t)
			}
		}
	}
	for _, f := range v.frameworks {
		completed(f)
	}
	for _, f := range v.completed {
		completed(f)
	}
	return out
}

// filesBrowse is /files/browse: the master's own paths, or the agent's
// listing with each entry renamed under /agents/<id>.
func (m *Master) filesBrowse(w http.ResponseWriter, r *http.Request) error {
	requested, err := files.PathParam(r.URL.Query())
	if err != nil {
		return err
	}
	if err := m.authorizeFile(r, requested); err != nil {
		return err
	}
	target, remote, err := m.filesTarget(r.Context(), requested)
	if err != nil || !remote {
		if err != nil {
			return err
		}
		return m.files.Browse(w, r)
	}
	resp, body, err := m.agentGet(r.Context(), target, "browse", url.Values{"path": {target.rest}})
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return relay(w, resp, body)
	}
	var listing legacy.FileListing
	if err := json.Unmarshal(body, &listing); err != nil {
		return httpapi.Errorf(http.StatusBadGateway, "Agent '%s' at %s answered a listing that does not parse: %v.\n", target.id, target.addr, err)
	}
	for i := range listing {
		listing[i].Path = "/agents/" + target.id + listing[i].Path
	}
	if listing == nil {
		listing = legacy.FileListing{}
	}
	return legacy.Write(w, r, listing)
}

// filesRead is /files/read: parameters checked as the agent checks them,
// then the master's own file, or the agent's answer as it is.
func (m *Master) filesRead(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	rp, err := files.ReadQuery(q)
	if err != nil {
		return err
	}
	if err := m.authorizeFile(r, rp.Path); err != nil {
		return err
	}
	target, remote, err := m.filesTarget(r.Context(), rp.Path)
	if err != nil || !remote {
		if err != nil {
			return err
		}
		return m.files.Read(w, r)
	}
	fwd := url.Values{"path": {target.rest}}
	for _, k := range []string{"offset", "length", "jsonp"} {
		if q.Has(k) {
			fwd.Set(k, q.Get(k))
		}
	}
	resp, body, err := m.agentGet(r.Context(), target, "read", fwd)
	if err != nil {
		return err
	}
	return relay(w, resp, body)
}

// filesDownload is /files/download: the master's own file, or the
// agent's answer streamed as it comes.
func (m *Master) filesDownload(w http.ResponseWriter, r *http.Request) error {
	requested, err := files.PathParam(r.URL.Query())
	if err != nil {
		return err
	}
	if err := m.authorizeFile(r, requested); err != nil {
		return err
	}
	target, remote, err := m.filesTarget(r.Context(), requested)
	if err != nil || !remote {
		if err != nil {
			return err
		}
		return m.files.Download(w, r)
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	resp, err := m.agentRequest(ctx, target, http.MethodGet, "/files/download?"+url.Values{"path": {target.rest}}.Encode(), nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	h := w.Header()
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Disposition"} {
		if v := resp.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	// Cut the download when the agent goes quiet for filesProxyIdle.
	idle := time.AfterFunc(filesProxyIdle, cancel)
	defer idle.Stop()
	buf := make([]byte, 64<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		idle.Reset(filesProxyIdle)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				m.log.Debug("files: download through the master cut short by the client", "agent_id", target.id, "path", target.rest, "err", werr)
				return nil
			}
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				m.log.Warn("files: download from the agent cut short", "agent_id", target.id, "path", target.rest, "err", rerr)
			}
			return nil
		}
	}
}

// filesDebug is /files/debug: each attached path to what serves it: the
// log file for /master/log, the agent's /files for /agents/<id>.
func (m *Master) filesDebug(w http.ResponseWriter, r *http.Request) error {
	if err := m.authorize(r, acl.GetEndpoints, acl.Value("/files/debug"), "GET /files/debug"); err != nil {
		return err
	}
	s, err := m.read(r.Context())
	if err != nil {
		return unavailable(err)
	}
	doc := map[string]string{}
	if m.cfg.LogFile != "" {
		doc["/master/log"] = m.cfg.LogFile
	}
	for id, a := range s.view.agents {
		doc["/agents/"+id] = m.cfg.TLS.Scheme() + "://" + net.JoinHostPort(a.ip, strconv.Itoa(a.port)) + "/files"
	}
	return legacy.Write(w, r, doc)
}

// listFiles is the operator API's LIST_FILES.
func (m *Master) listFiles(ctx context.Context, requested string) (*masterpb.Response_ListFiles, error) {
	target, remote, err := m.filesTarget(ctx, requested)
	if err != nil {
		return nil, err
	}
	if !remote {
		infos, err := m.files.List(requested)
		if err != nil {
			return nil, err
		}
		return &masterpb.Response_ListFiles{FileInfos: infos}, nil
	}
	call := &agentpb.Call{Type: agentpb.Call_LIST_FILES.Enum(), ListFiles: &agentpb.Call_ListFiles{Path: proto.String(target.rest)}}
	resp, err := m.agentCall(ctx, target, call)
	if err != nil {
		return nil, err
	}
	infos := resp.GetListFiles().GetFileInfos()
	for _, fi := range infos {
		fi.Path = proto.String("/agents/" + target.id + fi.GetPath())
	}
	return &masterpb.Response_ListFiles{FileInfos: infos}, nil
}

// readFile is the operator API's READ_FILE.
func (m *Master) readFile(ctx context.Context, rf *masterpb.Call_ReadFile) (*masterpb.Response_ReadFile, error) {
	target, remote, err := m.filesTarget(ctx, rf.GetPath())
	if err != nil {
		return nil, err
	}
	if !remote {
		var length *uint64
		if rf.Length != nil {
			length = proto.Uint64(rf.GetLength())
		}
		size, data, err := m.files.ReadFile(rf.GetPath(), rf.GetOffset(), length)
		if err != nil {
			return nil, err
		}
		return &masterpb.Response_ReadFile{Size: proto.Uint64(size), Data: data}, nil
	}
	call := &agentpb.Call{Type: agentpb.Call_READ_FILE.Enum(), ReadFile: &agentpb.Call_ReadFile{
		Path: proto.String(target.rest), Offset: proto.Uint64(rf.GetOffset()), Length: rf.Length,
	}}
	resp, err := m.agentCall(ctx, target, call)
	if err != nil {
		return nil, err
	}
	data := resp.GetReadFile().GetData()
	if data == nil {
		data = []byte{}
	}
	return &masterpb.Response_ReadFile{Size: proto.Uint64(resp.GetReadFile().GetSize()), Data: data}, nil
}

// agentCall sends call to the agent's operator API in protobuf and
// returns its answer; the agent's refusals come back with its status.
func (m *Master) agentCall(ctx context.Context, target agentFile, call *agentpb.Call) (*agentpb.Response, error) {
	body, err := codec.Marshal(codec.Protobuf, call)
	if err != nil {
		return nil, fmt.Errorf("encode the agent call: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, filesProxyTimeout)
	defer cancel()
	resp, err := m.agentRequest(ctx, target, http.MethodPost, "/api/v1", body, codec.Protobuf.MediaType())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := readCapped(target, resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, httpapi.Errorf(resp.StatusCode, "%s", b)
	}
	out := &agentpb.Response{}
	if err := codec.Unmarshal(codec.Protobuf, b, out); err != nil {
		return nil, httpapi.Errorf(http.StatusBadGateway, "Agent '%s' at %s answered %s that does not parse: %v.\n", target.id, target.addr, call.GetType(), err)
	}
	return out, nil
}

// agentGet is GET /files/<op>?<query> on the target's agent, bounded by
// filesProxyTimeout and filesProxyMaxBody.
func (m *Master) agentGet(ctx context.Context, target agentFile, op string, query url.Values) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, filesProxyTimeout)
	defer cancel()
	resp, err := m.agentRequest(ctx, target, http.MethodGet, "/files/"+op+"?"+query.Encode(), nil, "")
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := readCapped(target, resp.Body)
	if err != nil {
		return nil, nil, err
	}
	return resp, body, nil
}

// agentRequest sends one request to the target's agent. Failing to reach
// it is a 503 naming the agent.
func (m *Master) agentRequest(ctx context.Context, target agentFile, method, pathQuery string, body []byte, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, m.cfg.TLS.Scheme()+"://"+target.addr+pathQuery, bytes.NewReader(body))
	if err != nil {
		return nil, httpapi.Errorf(http.StatusBadGateway, "Agent '%s' at %s cannot be asked: %v.\n", target.id, target.addr, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Accept", contentType)
	}
	forwardAuth(ctx, req)
	resp, err := m.filesClient.Do(req)
	if err != nil {
		m.log.Warn("files: agent cannot be reached", "agent_id", target.id, "address", target.addr, "err", err)
		return nil, &httpapi.Error{
			Status:  http.StatusServiceUnavailable,
			Message: fmt.Sprintf("Agent '%s' at %s cannot be reached: %v.\n", target.id, target.addr, err),
			Err:     err,
		}
	}
	return resp, nil
}

// readCapped reads an agent's answer, 502 past filesProxyMaxBody or when
// it is cut.
func readCapped(target agentFile, r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, filesProxyMaxBody+1))
	if err != nil {
		return nil, httpapi.Errorf(http.StatusBadGateway, "Agent '%s' at %s: the answer was cut: %v.\n", target.id, target.addr, err)
	}
	if len(b) > filesProxyMaxBody {
		return nil, httpapi.Errorf(http.StatusBadGateway, "Agent '%s' at %s answered more than %d bytes.\n", target.id, target.addr, filesProxyMaxBody)
	}
	return b, nil
}

// relay writes an agent's bounded answer as it came: status, type, body.
func relay(w http.ResponseWriter, resp *http.Response, body []byte) error {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	_, err := w.Write(body)
	return err
}

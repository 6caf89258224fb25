package agent

import (
	"net/http"
	"strings"

	"github.com/mezzo-project/mezzo/api/legacy"
	agentpb "github.com/mezzo-project/mezzo/api/v1/agent"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/acl"
	"github.com/mezzo-project/mezzo/internal/auth"
)

// Authorization (--acls, package internal/acl) at the agent, as Mesos'
// agent asks its local authorizer, of the principal authentication put
// in an HTTP request's context (none: anonymous):
//
//   - /state and the operator API's GET_STATE, GET_FRAMEWORKS,
//     GET_EXECUTORS and GET_TASKS list the frameworks, executors and
//     tasks the principal may view (view_frameworks, view_executors,
//     view_tasks, by the user they run as), and the flags only with
//     view_flags;
//   - /flags and GET_FLAGS need view_flags, SET_LOGGING_LEVEL
//     set_log_level (403 Forbidden otherwise);
//   - /files and LIST_FILES/READ_FILE need access_sandboxes for a
//     sandbox (by the user its executor runs as) and access_mesos_logs for
//     /slave/log;
//   - /files/debug, /metrics/snapshot, /logging/toggle, /containers and
//     /monitor/statistics need get_endpoints for their path.

func requestSubject(r *http.Request) acl.Subject {
	return acl.SubjectOf(auth.PrincipalFrom(r.Context()))
}

// authorize answers 403 unless the request's principal may do action on
// obj.
func (a *Agent) authorize(r *http.Request, action acl.Action, obj acl.Object, what string) error {
	s := requestSubject(r)
	if a.authz.Allowed(action, s, obj) {
		return nil
	}
	a.log.Info("request refused by the ACLs", "principal", s.String(), "action", string(action), "path", r.URL.Path)
	return httpapi.Forbidden("Principal %s is not authorized to %s (%s)", s, what, action)
}

// guardEndpoint serves h only to the principals get_endpoints allows for
// path.
func (a *Agent) guardEndpoint(path string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.authorize(r, acl.GetEndpoints, acl.Value(path), "GET "+path); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// guardFiles serves a /files endpoint h only for the paths the request's
// principal may access (authorizeFile).
func (a *Agent) guardFiles(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.authorizeFile(r, r.URL.Query().Get("path")); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// authorizeFile decides access to a file path: /slave/log by
// access_mesos_logs; a path in a sandbox (virtual
// /frameworks/<fw>/executors/<ex>/..., or the same under the work
// directory) by access_sandboxes for the user the executor runs as (its
// command's, else its framework's; ANY when the agent knows neither).
func (a *Agent) authorizeFile(r *http.Request, p string) error {
	if !a.authz.Enabled() {
		return nil
	}
	if strings.TrimRight(p, "/") == "/slave/log" {
		return a.authorize(r, acl.AccessMesosLogs, acl.AnyObject, "read the agent's log")
	}
	parts := strings.Split(p, "/")
	for i := 0; i+3 < len(parts); i++ {
		if parts[i] != "frameworks" || parts[i+2] != "executors" {
			continue
		}
		fwID, exID := parts[i+1], parts[i+3]
		obj := acl.AnyObject
		if err := a.onState(func() {
			fw := a.st.frameworks[fwID]
			if fw == nil {
				for _, c := range a.st.completedFrameworks {
					if c.id == fwID {
						fw = c
					}
				}
			}
			if fw == nil {
				return
			}
			user := fw.info.GetUser()
			if ex := fw.executors[exID]; ex != nil && hasUser(ex.info.GetCommand()) {
				user = ex.info.GetCommand().GetUser()
			}
			obj = acl.Value(user)
		}); err != nil {
			return err
		}
		return a.authorize(r, acl.AccessSandboxes, obj, "access the sandbox of executor "+exID+" of framework "+fwID)
	}
	return nil
}

// stateViewer is what one principal may see of the agent's frameworks,
// executors and tasks; nil sees everything (no --acls).
type stateViewer struct {
	frameworks, executors, tasks func(user string) bool
	roles                        func(role string) bool
	flags                        bool
}

func (a *Agent) viewerFor(r *http.Request) *stateViewer {
	if !a.authz.Enabled() {
		return nil
	}
	s := requestSubject(r)
	return &stateViewer{
		frameworks: a.authz.Approver(acl.ViewFrameworks, s),
		executors:  a.authz.Approver(acl.ViewExecutors, s),
		tasks:      a.authz.Approver(acl.ViewTasks, s),
		roles:      a.authz.Approver(acl.ViewRoles, s),
		flags:      a.authz.Allowed(acl.ViewFlags, s, acl.AnyObject),
	}
}

// viewState leaves out of /state what v may not view (state goroutine:
// it reads the executors' infos).
func (a *Agent) viewState(doc *legacy.AgentState, v *stateViewer) {
	if v == nil {
		return
	}
	if !v.flags {
		doc.Flags = nil
	}
	doc.ReservedResources = viewReserved(doc.ReservedResources, v)
	doc.ReservedResourcesFull = viewReserved(doc.ReservedResourcesFull, v)
	doc.ReservedResourcesAllocated = viewReserved(doc.ReservedResourcesAllocated, v)
	doc.Frameworks = a.viewFrameworkDocs(doc.Frameworks, v)
	doc.CompletedFrameworks = a.viewFrameworkDocs(doc.CompletedFrameworks, v)
}

// viewReserved keeps the reservations of the roles v may view
// (view_roles), as Mesos' agent writes its reserved resources.
func viewReserved[R any](m map[string]R, v *stateViewer) map[string]R {
	out := make(map[string]R, len(m))
	for role, r := range m {
		if v.roles(role) {
			out[role] = r
		}
	}
	return out
}

func (a *Agent) viewFrameworkDocs(docs legacy.List[legacy.AgentFramework], v *stateViewer) legacy.List[legacy.AgentFramework] {
	out := legacy.List[legacy.AgentFramework]{}
	for _, f := range docs {
		if !v.frameworks(f.User) {
			continue
		}
		f.Executors = a.viewExecutorDocs(f, f.Executors, v)
		f.CompletedExecutors = a.viewExecutorDocs(f, f.CompletedExecutors, v)
		out = append(out, f)
	}
	return out
}

func (a *Agent) viewExecutorDocs(f legacy.AgentFramework, docs legacy.List[legacy.AgentExecutor], v *stateViewer) legacy.List[legacy.AgentExecutor] {
	out := legacy.List[legacy.AgentExecutor]{}
	for _, e := range docs {
		user := f.User
		if fw := a.st.frameworks[f.ID]; fw != nil {
			if ex := fw.executors[e.ID]; ex != nil && hasUser(ex.info.GetCommand()) {
				user = ex.info.GetCommand().GetUser()
			}
		}
		if !v.executors(user) {
			continue
		}
		keep := func(ts legacy.List[legacy.Task]) legacy.List[legacy.Task] {
			out := legacy.List[legacy.Task]{}
			for _, t := range ts {
				u := t.User
				if u == "" {
					u = f.User
				}
				if v.tasks(u) {
					out = append(out, t)
				}
			}
			return out
		}
		e.Tasks = keep(e.Tasks)
		e.CompletedTasks = keep(e.CompletedTasks)
		queued := legacy.List[legacy.QueuedTask]{}
		for _, q := range e.QueuedTasks {
			if v.tasks(f.User) {
				queued = append(queued, q)
			}
		}
		e.QueuedTasks = queued
		out = append(out, e)
	}
	return out
}

// viewStateResponse leaves out of a GET_STATE, GET_FRAMEWORKS,
// GET_EXECUTORS or GET_TASKS answer what v may not view.
func viewStateResponse(resp *agentpb.Response, v *stateViewer) {
	if v == nil || resp == nil {
		return
	}
	infos := map[string]*mesos.FrameworkInfo{}
	frameworks := resp.GetGetFrameworks()
	if st := resp.GetGetState(); st != nil {
		frameworks = st.GetGetFrameworks()
	}
	for _, f := range append(append([]*agentpb.Response_GetFrameworks_Framework{}, frameworks.GetFrameworks()...), frameworks.GetCompletedFrameworks()...) {
		infos[f.GetFrameworkInfo().GetId().GetValue()] = f.GetFrameworkInfo()
	}
	viewFw := func(in *agentpb.Response_GetFrameworks) *agentpb.Response_GetFrameworks {
		if in == nil {
			return nil
		}
		out := &agentpb.Response_GetFrameworks{}
		for _, f := range in.GetFrameworks() {
			if v.frameworks(f.GetFrameworkInfo().GetUser()) {
				out.Frameworks = append(out.Frameworks, f)
			}
		}
		for _, f := range in.GetCompletedFrameworks() {
			if v.frameworks(f.GetFrameworkInfo().GetUser()) {
				out.CompletedFrameworks = append(out.CompletedFrameworks, f)
			}
		}
		return out
	}
	execOK := func(e *mesos.ExecutorInfo) bool {
		info := infos[e.GetFrameworkId().GetValue()]
		if info == nil || !v.frameworks(info.GetUser()) {
			return false
		}
		if hasUser(e.GetCommand()) {
			return v.executors(e.GetCommand().GetUser())
		}
		return v.executors(info.GetUser())
	}
	viewEx := func(in *agentpb.Response_GetExecutors) *agentpb.Response_GetExecutors {
		if in == nil {
			return nil
		}
		out := &agentpb.Response_GetExecutors{}
		for _, e := range in.GetExecutors() {
			if execOK(e.GetExecutorInfo()) {
				out.Executors = append(out.Executors, e)
			}
		}
		for _, e := range in.GetCompletedExecutors() {
			if execOK(e.GetExecutorInfo()) {
				out.CompletedExecutors = append(out.CompletedExecutors, e)
			}
		}
		return out
	}
	taskOK := func(t *mesos.Task) bool {
		info := infos[t.GetFrameworkId().GetValue()]
		if info == nil || !v.frameworks(info.GetUser()) {
			return false
		}
		if t.User != nil {
			return v.tasks(t.GetUser())
		}
		return v.tasks(info.GetUser())
	}
	viewTasks := func(in *agentpb.Response_GetTasks) *agentpb.Response_GetTasks {
		if in == nil {
			return nil
		}
		keep := func(ts []*mesos.Task) []*mesos.Task {
			var out []*mesos.Task
			for _, t := range ts {
				if taskOK(t) {
					out = append(out, t)
				}
			}
			return out
		}
		return &agentpb.Response_GetTasks{
			PendingTasks:    keep(in.GetPendingTasks()),
			QueuedTasks:     keep(in.GetQueuedTasks()),
			LaunchedTasks:   keep(in.GetLaunchedTasks()),
			TerminatedTasks: keep(in.GetTerminatedTasks()),
			CompletedTasks:  keep(in.GetCompletedTasks()),
		}
	}
	if st := resp.GetGetState(); st != nil {
		st.GetFrameworks = viewFw(st.GetFrameworks)
		st.GetExecutors = viewEx(st.GetExecutors)
		st.GetTasks = viewTasks(st.GetTasks)
	}
	resp.GetFrameworks = viewFw(resp.GetFrameworks)
	resp.GetExecutors = viewEx(resp.GetExecutors)
	resp.GetTasks = viewTasks(resp.GetTasks)
}

// authorizeOperatorCall decides the operator calls that change or reveal
// what ACLs guard; the state queries are filtered instead
// (viewStateResponse).
func (a *Agent) authorizeOperatorCall(r *http.Request, call *agentpb.Call) error {
	switch call.GetType() {
	case agentpb.Call_GET_FLAGS:
		return a.authorize(r, acl.ViewFlags, acl.AnyObject, "view the flags")
	case agentpb.Call_SET_LOGGING_LEVEL:
		return a.authorize(r, acl.SetLogLevel, acl.AnyObject, "set the logging level")
	case agentpb.Call_LIST_FILES:
		return a.authorizeFile(r, call.GetListFiles().GetPath())
	case agentpb.Call_READ_FILE:
		return a.authorizeFile(r, call.GetReadFile().GetPath())
	}
	return nil
}

// viewContainers leaves out of GET_CONTAINERS the containers of executors
// the request's principal may not view (view_containers, by the user
// the executor runs as).
func (a *Agent) viewContainers(r *http.Request, resp *agentpb.Response) error {
	list := resp.GetGetContainers()
	if !a.authz.Enabled() || list == nil {
		return nil
	}
	allowed := a.authz.Approver(acl.ViewContainers, requestSubject(r))
	users := map[int]string{}
	known := map[int]bool{}
	if err := a.onState(func() {
		for i, c := range list.GetContainers() {
			fw := a.st.frameworks[c.GetFrameworkId().GetValue()]
			if fw == nil {
				continue
			}
			users[i], known[i] = fw.info.GetUser(), true
			if ex := fw.executors[c.GetExecutorId().GetValue()]; ex != nil && hasUser(ex.info.GetCommand()) {
				users[i] = ex.info.GetCommand().GetUser()
			}
		}
	}); err != nil {
		return err
	}
	var out []*agentpb.Response_GetContainers_Container
	for i, c := range list.GetContainers() {
		if !known[i] && a.authz.Allowed(acl.ViewContainers, requestSubject(r), acl.AnyObject) || known[i] && allowed(users[i]) {
			out = append(out, c)
		}
	}
	list.Containers = out
	return nil
}

// hasUser reports whether a command names the user it runs as.
func hasUser(c *mesos.CommandInfo) bool { return c != nil && c.User != nil }

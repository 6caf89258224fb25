package master

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/acl"
	"github.com/mezzo-project/mezzo/internal/auth"
)

// Authorization (--acls, package internal/acl) at the master, as Mesos'
// master asks its local authorizer:
//
//   - frameworks are the subject of their own calls, by
//     FrameworkInfo.principal (none: anonymous): register_frameworks for
//     every role at SUBSCRIBE (v1 and the driver protocol) and
//     UPDATE_FRAMEWORK, run_tasks for each task of an ACCEPT, and the
//     reservation and volume actions for an ACCEPT's conversions;
//   - HTTP requests are the subject of operator actions, by the principal
//     authentication put in the request's context (none: anonymous):
//     a refused action is 403 Forbidden, and the documents and
//     answers that list frameworks, tasks, executors, roles, quotas and
//     flags leave out what the principal may not view;
//   - operator event streams are filtered per subscriber, by the
//     principal that subscribed.
//
// The authorizer is immutable: the core, the HTTP goroutines and the
// snapshots share it.

// requestSubject is the subject of an HTTP request: the principal its
// authentication found, or anonymous.
func requestSubject(r *http.Request) acl.Subject {
	return acl.SubjectOf(auth.PrincipalFrom(r.Context()))
}

// frameworkSubject is the subject of a framework's calls.
func frameworkSubject(info *mesos.FrameworkInfo) acl.Subject {
	return acl.Principal(info.GetPrincipal())
}

// authorize answers 403 Forbidden unless the request's principal may do
// action on obj; what says what was refused, for the answer and the log.
func (m *Master) authorize(r *http.Request, action acl.Action, obj acl.Object, what string) error {
	s := requestSubject(r)
	if m.authz.Allowed(action, s, obj) {
		return nil
	}
	m.log.Info("request refused by the ACLs", "principal", s.String(), "action", string(action), "path", r.URL.Path)
	return httpapi.Forbidden("Principal %s is not authorized to %s (%s)", s, what, action)
}

// authorizeAll is authorize for several objects: every one must be
// allowed.
func (m *Master) authorizeAll(r *http.Request, action acl.Action, objs []acl.Object, what string) error {
	for _, o := range objs {
		if err := m.authorize(r, action, o, what); err != nil {
			return err
		}
	}
	return nil
}

// authorizeEndpoint guards h, the handler of path, one of Mesos'
// authorizable endpoints (get_endpoints, by the path).
func (m *Master) authorizeEndpoint(path string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := m.authorize(r, acl.GetEndpoints, acl.Value(path), "GET "+path); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// authorizeFile decides a request for a file path of the master's
// files (files.go): the logs (/master/log, /agents/<id>/slave/log) by
// access_mesos_logs; a sandbox (/agents/<id>/frameworks/<fw>/executors/
// <ex>/...) by access_sandboxes, for the user its executor runs as (its
// command's, else its framework's; ANY when the master knows neither);
// the virtual directories above the sandboxes are not guarded. A path
// that does not parse is left to the handler's 400.
func (m *Master) authorizeFile(r *http.Request, requested string) error {
	if !m.authz.Enabled() {
		return nil
	}
	p, err := filesPath(requested)
	if err != nil {
		return nil
	}
	if p == "/master/log" {
		return m.authorize(r, acl.AccessMesosLogs, acl.AnyObject, "read the master's log")
	}
	tail, ok := strings.CutPrefix(p, "/agents/")
	if !ok {
		return nil
	}
	parts := strings.Split(tail, "/")
	if len(parts) >= 3 && parts[1] == "slave" && parts[2] == "log" {
		return m.authorize(r, acl.AccessMesosLogs, acl.AnyObject, "read an agent's log")
	}
	if len(parts) < 5 || parts[1] != "frameworks" || parts[3] != "executors" {
		return nil
	}
	agentID, fwID, execID := parts[0], parts[2], parts[4]
	s, err := m.read(r.Context())
	if err != nil {
		return unavailable(err)
	}
	obj := acl.AnyObject
	if f := s.view.frameworkOf(fwID); f != nil {
		user := f.info.GetUser()
		if e := f.executors[agentID][execID]; e != nil && hasUser(e.info.GetCommand()) {
			user = e.info.GetCommand().GetUser()
		}
		obj = acl.Value(user)
	}
	return m.authorize(r, acl.AccessSandboxes, obj, "access the sandbox of executor "+execID+" of framework "+fwID)
}

// authorizeMaintenance checks start_maintenances (start) or
// stop_maintenances.
func (m *Master) authorizeMaintenance(r *http.Request, start bool) error {
	if start {
		return m.authorize(r, acl.StartMaintenances, acl.AnyObject, "start maintenance")
	}
	return m.authorize(r, acl.StopMaintenances, acl.AnyObject, "stop maintenance")
}

// operatorTeardown is an operator's teardown of framework id (TEARDOWN,
// /master/teardown), which teardown_frameworks decides by the
// framework's principal; an unknown framework is the 400 of
// teardownFramework.
func (c *core) operatorTeardown(s acl.Subject, id string) error {
	if f := c.frameworks[id]; f != nil && !c.authz.Allowed(acl.TeardownFrameworks, s, acl.Value(f.info.GetPrincipal())) {
		c.log.Info("teardown refused by the ACLs", "principal", s.String(), "framework_id", id)
		return forbiddenf("Principal %s is not authorized to tear down framework %s (teardown_frameworks)", s, id)
	}
	return c.teardownFramework(id)
}

// rolesString writes roles as Mesos' messages do: "{ a, b }".
func rolesString(roles []string) string {
	if len(roles) == 0 {
		return "{  }"
	}
	return "{ " + strings.Join(roles, ", ") + " }"
}

// authorizeRegistration checks register_frameworks for every role of a
// subscribing or updating framework; the error names the role refused.
func (c *core) authorizeRegistration(info *mesos.FrameworkInfo, roles []string) error {
	s := frameworkSubject(info)
	denied, ok := c.authz.AllowedAll(acl.RegisterFrameworks, s, roles)
	if ok {
		return nil
	}
	msg := fmt.Sprintf("Not authorized to register framework %s with roles %s", info.GetId().GetValue(), rolesString(roles))
	if denied != "" {
		msg += fmt.Sprintf(": principal %s may not use role '%s'", s, denied)
	}
	return fmt.Errorf("%s", msg)
}

// taskUser is the user a task runs as, as Mesos' authorizer reads it:
// the task's command's, else its executor's, else the framework's.
func taskUser(t *mesos.TaskInfo, f *mesos.FrameworkInfo) string {
	switch {
	case hasUser(t.GetCommand()):
		return t.GetCommand().GetUser()
	case hasUser(t.GetExecutor().GetCommand()):
		return t.GetExecutor().GetCommand().GetUser()
	}
	return f.GetUser()
}

// authorizeTask checks run_tasks for one task of an ACCEPT; the error is
// the message of the task's TASK_ERROR, naming the user.
func (c *core) authorizeTask(f *framework, t *mesos.TaskInfo) error {
	if !c.authz.Enabled() {
		return nil
	}
	user := taskUser(t, f.info)
	if c.authz.Allowed(acl.RunTasks, frameworkSubject(f.info), acl.Value(user)) {
		return nil
	}
	return fmt.Errorf("Not authorized to launch task %s of framework %s under user '%s'", t.GetTaskId().GetValue(), f.id, user)
}

// authorizeTaskGroup checks run_tasks for every task of a LAUNCH_GROUP:
// one refused fails the whole group (Mesos'
// REASON_TASK_GROUP_UNAUTHORIZED).
func (c *core) authorizeTaskGroup(f *framework, g *mesos.TaskGroupInfo) error {
	for _, t := range g.GetTasks() {
		if err := c.authorizeTask(f, t); err != nil {
			return fmt.Errorf("Task '%s' is not authorized: %w", t.GetTaskId().GetValue(), err)
		}
	}
	return nil
}

// reservationRole is the role a resource is (last) reserved to, "*" when
// unreserved, in either reservation format.
func reservationRole(r *mesos.Resource) string {
	if rs := r.GetReservations(); len(rs) > 0 {
		return rs[len(rs)-1].GetRole()
	}
	if r != nil && r.Role != nil {
		return r.GetRole()
	}
	return "*"
}

// reservationPrincipal is the principal of a resource's last reservation,
// and whether it has one.
func reservationPrincipal(r *mesos.Resource) (string, bool) {
	if rs := r.GetReservations(); len(rs) > 0 {
		last := rs[len(rs)-1]
		return last.GetPrincipal(), last.Principal != nil
	}
	if r != nil && r.Reservation != nil {
		return r.GetReservation().GetPrincipal(), r.GetReservation().Principal != nil
	}
	return "", false
}

// conversionObjects are the action and objects Mesos authorizes a
// reservation or volume operation with: reserve_resources per role
// reserved, unreserve_resources per reserver principal (ANY for
// reservations without one), create_volumes per role, destroy_volumes
// per creator principal, resize_volumes by the volume's role.
func conversionObjects(op *mesos.Offer_Operation) (acl.Action, []acl.Object, string) {
	roles := func(rs []*mesos.Resource) []acl.Object {
		seen := map[string]bool{}
		var out []acl.Object
		for _, r := range rs {
			if role := reservationRole(r); !seen[role] {
				seen[role] = true
				out = append(out, acl.Value(role))
			}
		}
		return out
	}
	switch op.GetType() {
	case mesos.Offer_Operation_RESERVE:
		return acl.ReserveResources, roles(op.GetReserve().GetResources()), "reserve resources"
	case mesos.Offer_Operation_UNRESERVE:
		var out []acl.Object
		anonymous := false
		for _, r := range op.GetUnreserve().GetResources() {
			if p, ok := reservationPrincipal(r); ok {
				out = append(out, acl.Value(p))
			} else {
				anonymous = true
			}
		}
		if anonymous {
			out = append(out, acl.AnyObject)
		}
		return acl.UnreserveResources, out, "unreserve resources"
	case mesos.Offer_Operation_CREATE:
		out := roles(op.GetCreate().GetVolumes())
		if len(out) == 0 {
			out = []acl.Object{acl.AnyObject}
		}
		return acl.CreateVolumes, out, "create volumes"
	case mesos.Offer_Operation_DESTROY:
		var out []acl.Object
		for _, v := range op.GetDestroy().GetVolumes() {
			if p := v.GetDisk().GetPersistence(); p != nil {
				out = append(out, acl.Value(p.GetPrincipal()))
			}
		}
		if len(out) == 0 {
			out = []acl.Object{acl.AnyObject}
		}
		return acl.DestroyVolumes, out, "destroy volumes"
	case mesos.Offer_Operation_GROW_VOLUME:
		return acl.ResizeVolumes, []acl.Object{acl.Value(reservationRole(op.GetGrowVolume().GetVolume()))}, "grow a volume"
	case mesos.Offer_Operation_SHRINK_VOLUME:
		return acl.ResizeVolumes, []acl.Object{acl.Value(reservationRole(op.GetShrinkVolume().GetVolume()))}, "shrink a volume"
	}
	return "", nil, ""
}

// conversionOperation wraps an operator's reservation or volume call as
// the offer operation conversionObjects reads.
func conversionOperation(kind mesos.Offer_Operation_Type, res []*mesos.Resource) *mesos.Offer_Operation {
	op := &mesos.Offer_Operation{Type: kind.Enum()}
	switch kind {
	case mesos.Offer_Operation_RESERVE:
		op.Reserve = &mesos.Offer_Operation_Reserve{Resources: res}
	case mesos.Offer_Operation_UNRESERVE:
		op.Unreserve = &mesos.Offer_Operation_Unreserve{Resources: res}
	case mesos.Offer_Operation_CREATE:
		op.Create = &mesos.Offer_Operation_Create{Volumes: res}
	case mesos.Offer_Operation_DESTROY:
		op.Destroy = &mesos.Offer_Operation_Destroy{Volumes: res}
	}
	return op
}

// authorizeConversion checks an operator's reservation or volume
// operation.
func (m *Master) authorizeConversion(r *http.Request, op *mesos.Offer_Operation) error {
	if !m.authz.Enabled() {
		return nil
	}
	action, objs, what := conversionObjects(op)
	return m.authorizeAll(r, action, objs, what)
}

// authorizeFrameworkConversion checks a framework's reservation or
// volume operation in an ACCEPT.
func (c *core) authorizeFrameworkConversion(f *framework, op *mesos.Offer_Operation) error {
	if !c.authz.Enabled() {
		return nil
	}
	action, objs, what := conversionObjects(op)
	s := frameworkSubject(f.info)
	for _, o := range objs {
		if !c.authz.Allowed(action, s, o) {
			return fmt.Errorf("Not authorized to %s: principal %s is refused %s", what, s, action)
		}
	}
	return nil
}

// viewer is what one principal may see of the master's books: the
// frameworks, tasks and executors (by the user they run as), the roles
// (view_roles), the quotas (get_quotas) and the flags (view_flags). A
// nil *viewer sees everything (no --acls). It remembers its decisions
// (there are few users and roles, and many tasks), so one goroutine at a
// time may use it: the request's, or the core's for an event stream.
type viewer struct {
	subject                   acl.Subject
	frameworks, tasks, execs  func(user string) bool
	roles, quotas             func(role string) bool
	flags, schedule, statuses bool
}

// viewerFor is the viewer of an HTTP request's principal; nil without
// ACLs.
func (m *Master) viewerFor(r *http.Request) *viewer {
	return newViewer(m.authz, requestSubject(r))
}

func newViewer(a *acl.Authorizer, s acl.Subject) *viewer {
	if !a.Enabled() {
		return nil
	}
	return &viewer{
		subject:    s,
		frameworks: remembered(a.Approver(acl.ViewFrameworks, s)),
		tasks:      remembered(a.Approver(acl.ViewTasks, s)),
		execs:      remembered(a.Approver(acl.ViewExecutors, s)),
		roles:      remembered(a.Approver(acl.ViewRoles, s)),
		quotas:     remembered(a.Approver(acl.GetQuotas, s)),
		flags:      a.Allowed(acl.ViewFlags, s, acl.AnyObject),
		schedule:   a.Allowed(acl.GetMaintenanceSchedules, s, acl.AnyObject),
		statuses:   a.Allowed(acl.GetMaintenanceStatuses, s, acl.AnyObject),
	}
}

// remembered is approve with its answers kept by value.
func remembered(approve func(string) bool) func(string) bool {
	seen := map[string]bool{}
	return func(v string) bool {
		ok, found := seen[v]
		if !found {
			ok = approve(v)
			seen[v] = ok
		}
		return ok
	}
}

// key distinguishes the documents built for different viewers in a
// snapshot's memo: "" for everything.
func (v *viewer) key() string {
	if v == nil {
		return ""
	}
	return " as " + v.subject.String()
}

func (v *viewer) framework(info *mesos.FrameworkInfo) bool {
	return v == nil || v.frameworks(info.GetUser())
}

// task decides view_tasks: by the task's user, else its framework's.
func (v *viewer) task(t *mesos.Task, info *mesos.FrameworkInfo) bool {
	if v == nil {
		return true
	}
	if t.User != nil {
		return v.tasks(t.GetUser())
	}
	return v.tasks(info.GetUser())
}

// executor decides view_executors: by the executor's command's user, else
// its framework's.
func (v *viewer) executor(e *mesos.ExecutorInfo, info *mesos.FrameworkInfo) bool {
	if v == nil {
		return true
	}
	if hasUser(e.GetCommand()) {
		return v.execs(e.GetCommand().GetUser())
	}
	return v.execs(info.GetUser())
}

func (v *viewer) role(role string) bool { return v == nil || v.roles(role) }

func (v *viewer) quota(role string) bool { return v == nil || v.quotas(role) }

func (v *viewer) viewFlags() bool { return v == nil || v.flags }

// frameworkInfos maps the ids of every framework the core knows
// (registered and completed) to their FrameworkInfo.
func (c *core) frameworkInfos() map[string]*mesos.FrameworkInfo {
	out := make(map[string]*mesos.FrameworkInfo, len(c.frameworks)+len(c.completed))
	for _, f := range c.completed {
		out[f.id] = f.info
	}
	for id, f := range c.frameworks {
		out[id] = f.info
	}
	return out
}

// hasUser reports whether a command names the user it runs as.
func hasUser(c *mesos.CommandInfo) bool { return c != nil && c.User != nil }

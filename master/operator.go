package master

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/api/v1/maintenance"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/acl"
	"github.com/mezzo-project/mezzo/internal/limits"
)

// operatorAPI is POST /api/v1 (also /master/api/v1), Mesos' master
// operator API, with Mesos' status codes (mesos-wire.md §5): 200 with a
// master::Response for queries (GET_STATE, GET_AGENTS, GET_FRAMEWORKS,
// GET_EXECUTORS and GET_TASKS in operator_state.go), 200 empty for
// UPDATE_WEIGHTS, UPDATE_QUOTA, TEARDOWN (operator_state.go) and the
// maintenance and agent calls (maintenance.go), 202
// for the reservation and volume calls (409 when the resources are not
// available), a streaming 200 for SUBSCRIBE (operator_stream.go), 400 for
// invalid calls, 503 when the registry write fails,
// 501 for calls this master does not implement. Accept is negotiated for every call (406).
func (m *Master) operatorAPI(w http.ResponseWriter, r *http.Request) error {
	call := &masterpb.Call{}
	if _, err := httpapi.DecodeCall(w, r, call, 0); err != nil {
		return err
	}
	format, err := httpapi.ResponseFormat(r)
	if err != nil {
		return err
	}
	if call.Type == nil {
		return httpapi.BadRequest("Failed to validate master::Call: Expecting 'type' to be present")
	}
	if err := limits.Check("call", call); err != nil {
		return httpapi.BadRequest("Failed to validate master::Call: %v", err)
	}
	respond := func(t masterpb.Response_Type, fill func(*masterpb.Response)) error {
		resp := &masterpb.Response{Type: t.Enum()}
		fill(resp)
		return httpapi.Respond(w, format, resp)
	}
	// respondView answers a query from a snapshot (m.read): fill builds
	// the response from the snapshot's books, once per snapshot and
	// format however many requests ask.
	// The answers that list frameworks, tasks, roles, quotas or the
	// maintenance schedule are what the request's principal may view
	// (authz.go), memoized per principal.
	vw := m.viewerFor(r)
	respondView := func(t masterpb.Response_Type, fill func(v *core, resp *masterpb.Response)) error {
		b, err := m.encodeRead(r.Context(), 0, func(s *snapshot) ([]byte, error) {
			return s.memoBytes(t.String()+" "+format.String()+vw.key(), func() ([]byte, error) {
				resp := &masterpb.Response{Type: t.Enum()}
				fill(s.view, resp)
				return codec.MarshalV1(format, resp)
			})
		})
		if err != nil {
			return err
		}
		return writeEncoded(w, format, b)
	}
	// onCore runs fn on the core and returns its answer, once any
	// registry write it waits for is done.
	onCore := func(fn func(c *core) error) error {
		var callErr error
		if err := m.do(func(c *core) { callErr = fn(c) }); err != nil {
			return unavailable(err)
		}
		return awaitReply(callErr)
	}
	switch call.GetType() {
	case masterpb.Call_GET_HEALTH:
		return respond(masterpb.Response_GET_HEALTH, func(resp *masterpb.Response) {
			resp.GetHealth = &masterpb.Response_GetHealth{Healthy: proto.Bool(true)}
		})
	case masterpb.Call_GET_VERSION:
		b := buildInfo()
		return respond(masterpb.Response_GET_VERSION, func(resp *masterpb.Response) {
			resp.GetVersion = &masterpb.Response_GetVersion{VersionInfo: &mesos.VersionInfo{
				Version: proto.String(b.Version), BuildDate: proto.String(b.BuildDate),
				BuildTime: proto.Float64(float64(b.BuildTime)), BuildUser: proto.String(b.BuildUser),
			}}
		})
	case masterpb.Call_GET_FLAGS:
		if err := m.authorize(r, acl.ViewFlags, acl.AnyObject, "view the flags"); err != nil {
			return err
		}
		vals := m.cfg.flagValues()
		names := make([]string, 0, len(vals))
		for n := range vals {
			names = append(names, n)
		}
		sort.Strings(names)
		return respond(masterpb.Response_GET_FLAGS, func(resp *masterpb.Response) {
			resp.GetFlags = &masterpb.Response_GetFlags{}
			for _, n := range names {
				resp.GetFlags.Flags = append(resp.GetFlags.Flags, &mesos.Flag{Name: proto.String(n), Value: proto.String(vals[n])})
			}
		})
	case masterpb.Call_GET_LOGGING_LEVEL:
		return respond(masterpb.Response_GET_LOGGING_LEVEL, func(resp *masterpb.Response) {
			resp.GetLoggingLevel = &masterpb.Response_GetLoggingLevel{Level: proto.Uint32(m.cfg.Verbosity.Get())}
		})
	case masterpb.Call_SET_LOGGING_LEVEL:
		sl := call.GetSetLoggingLevel()
		if sl == nil || sl.Level == nil || sl.Duration == nil {
			return httpapi.BadRequest("Failed to validate master::Call: Expecting 'set_logging_level' with 'level' and 'duration' to be present")
		}
		if ns := sl.GetDuration().GetNanoseconds(); ns < 0 {
			return httpapi.BadRequest("Failed to validate master::Call: 'set_logging_level.duration' must not be negative (%d nanoseconds)", ns)
		}
		if err := m.authorize(r, acl.SetLogLevel, acl.AnyObject, "set the logging level"); err != nil {
			return err
		}
		if err := m.cfg.Verbosity.Set(sl.GetLevel(), time.Duration(sl.GetDuration().GetNanoseconds())); err != nil {
			return httpapi.ServiceUnavailable("%v", err)
		}
		w.WriteHeader(http.StatusOK)
		return nil
	case masterpb.Call_GET_OPERATIONS:
		// Operations with feedback (resource providers, agent-side
		// operations) do not exist here: the master applies reservations
		// and volumes itself, at once.
		return respond(masterpb.Response_GET_OPERATIONS, func(resp *masterpb.Response) {
			resp.GetOperations = &masterpb.Response_GetOperations{}
		})
	case masterpb.Call_GET_MASTER:
		return respondView(masterpb.Response_GET_MASTER, func(v *core, resp *masterpb.Response) {
			resp.GetMaster = &masterpb.Response_GetMaster{
				MasterInfo:  v.info,
				StartTime:   proto.Float64(seconds(v.start)),
				ElectedTime: proto.Float64(seconds(v.start)),
			}
		})
	case masterpb.Call_GET_METRICS:
		// timeout as /metrics/snapshot's (metricsJSON).
		timeout := time.Duration(call.GetGetMetrics().GetTimeout().GetNanoseconds())
		snap, err := m.metrics(r.Context(), timeout)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(snap))
		for n := range snap {
			names = append(names, n)
		}
		sort.Strings(names)
		return respond(masterpb.Response_GET_METRICS, func(resp *masterpb.Response) {
			resp.GetMetrics = &masterpb.Response_GetMetrics{}
			for _, n := range names {
				resp.GetMetrics.Metrics = append(resp.GetMetrics.Metrics, &mesos.Metric{Name: proto.String(n), Value: proto.Float64(snap[n])})
			}
		})
	case masterpb.Call_GET_ROLES:
		return respondView(masterpb.Response_GET_ROLES, func(v *core, resp *masterpb.Response) {
			resp.GetRoles = &masterpb.Response_GetRoles{Roles: viewRolesProto(v.rolesProto(), vw)}
		})
	case masterpb.Call_GET_WEIGHTS:
		return respondView(masterpb.Response_GET_WEIGHTS, func(v *core, resp *masterpb.Response) {
			resp.GetWeights = &masterpb.Response_GetWeights{WeightInfos: viewWeights(v.weightInfos(), vw)}
		})
	case masterpb.Call_UPDATE_WEIGHTS:
		if call.UpdateWeights == nil {
			return httpapi.BadRequest("Failed to validate master::Call: Expecting 'update_weights' to be present")
		}
		for _, wi := range call.GetUpdateWeights().GetWeightInfos() {
			if err := m.authorize(r, acl.UpdateWeights, acl.Value(wi.GetRole()), "update the weight of role '"+wi.GetRole()+"'"); err != nil {
				return err
			}
		}
		return m.onCoreOK(w, func(c *core) error { return c.updateWeights(call.GetUpdateWeights().GetWeightInfos()) })
	case masterpb.Call_GET_QUOTA:
		return respondView(masterpb.Response_GET_QUOTA, func(v *core, resp *masterpb.Response) {
			resp.GetQuota = &masterpb.Response_GetQuota{Status: viewQuota(v.quotaStatus(), vw)}
		})
	case masterpb.Call_UPDATE_QUOTA:
		uq := call.GetUpdateQuota()
		if uq == nil {
			return httpapi.BadRequest("Failed to validate master::Call: Expecting 'update_quota' to be present")
		}
		for _, qc := range uq.GetQuotaConfigs() {
			if err := m.authorize(r, acl.UpdateQuotas, acl.Value(qc.GetRole()), "update the quota of role '"+qc.GetRole()+"'"); err != nil {
				return err
			}
		}
		return m.onCoreOK(w, func(c *core) error { return c.updateQuota(uq.GetForce(), uq.GetQuotaConfigs()) })
	case masterpb.Call_RESERVE_RESOURCES, masterpb.Call_UNRESERVE_RESOURCES,
		masterpb.Call_CREATE_VOLUMES, masterpb.Call_DESTROY_VOLUMES:
		agent, kind, res, err := operatorConversion(call)
		if err != nil {
			return err
		}
		if err := m.authorizeConversion(r, conversionOperation(kind, res)); err != nil {
			return err
		}
		if err := onCore(func(c *core) error { return c.operatorConvert(agent, kind, res) }); err != nil {
			return err
		}
		return httpapi.Accepted(w)
	case masterpb.Call_GROW_VOLUME, masterpb.Call_SHRINK_VOLUME:
		var agentID string
		op := &mesos.Offer_Operation{Type: mesos.Offer_Operation_GROW_VOLUME.Enum()}
		if call.GetType() == masterpb.Call_GROW_VOLUME {
			g := call.GetGrowVolume()
			if g == nil || g.Volume == nil || g.Addition == nil {
				return httpapi.BadRequest("Failed to validate master::Call: Expecting 'grow_volume' with 'volume' and 'addition' to be present")
			}
			agentID = g.GetAgentId().GetValue()
			op.GrowVolume = &mesos.Offer_Operation_GrowVolume{Volume: g.GetVolume(), Addition: g.GetAddition()}
		} else {
			sh := call.GetShrinkVolume()
			if sh == nil || sh.Volume == nil || sh.Subtract == nil {
				return httpapi.BadRequest("Failed to validate master::Call: Expecting 'shrink_volume' with 'volume' and 'subtract' to be present")
			}
			agentID = sh.GetAgentId().GetValue()
			op.Type = mesos.Offer_Operation_SHRINK_VOLUME.Enum()
			op.ShrinkVolume = &mesos.Offer_Operation_ShrinkVolume{Volume: sh.GetVolume(), Subtract: sh.GetSubtract()}
		}
		if err := m.authorizeConversion(r, op); err != nil {
			return err
		}
		if err := onCore(func(c *core) error { return c.operatorResize(agentID, op) }); err != nil {
			return err
		}
		return httpapi.Accepted(w)
	case masterpb.Call_MARK_AGENT_GONE:
		id := call.GetMarkAgentGone().GetAgentId().GetValue()
		if id == "" {
			return httpapi.BadRequest("Failed to validate master::Call: Expecting 'mark_agent_gone.agent_id' to be present")
		}
		if err := m.authorize(r, acl.MarkAgentsGone, acl.AnyObject, "mark agents gone"); err != nil {
			return err
		}
		return m.onCoreOK(w, func(c *core) error { return c.markAgentGone(id) })
	case masterpb.Call_GET_MAINTENANCE_SCHEDULE:
		return respondView(masterpb.Response_GET_MAINTENANCE_SCHEDULE, func(v *core, resp *masterpb.Response) {
			resp.GetMaintenanceSchedule = &masterpb.Response_GetMaintenanceSchedule{Schedule: viewSchedule(v.maint.schedule, vw)}
		})
	case masterpb.Call_GET_MAINTENANCE_STATUS:
		return respondView(masterpb.Response_GET_MAINTENANCE_STATUS, func(v *core, resp *masterpb.Response) {
			resp.GetMaintenanceStatus = &masterpb.Response_GetMaintenanceStatus{Status: viewMaintenanceStatus(v.maintenanceStatus(), vw)}
		})
	case masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE:
		u := call.GetUpdateMaintenanceSchedule()
		if u == nil || u.Schedule == nil {
			return httpapi.BadRequest("Failed to validate master::Call: Expecting 'update_maintenance_schedule' to be present")
		}
		if err := m.authorize(r, acl.UpdateMaintenanceSchedules, acl.AnyObject, "update the maintenance schedule"); err != nil {
			return err
		}
		return m.onCoreOK(w, func(c *core) error { return c.updateMaintenanceSchedule(u.GetSchedule()) })
	case masterpb.Call_START_MAINTENANCE, masterpb.Call_STOP_MAINTENANCE:
		start := call.GetType() == masterpb.Call_START_MAINTENANCE
		var ids []*mesos.MachineID
		switch {
		case start && call.StartMaintenance != nil:
			ids = call.GetStartMaintenance().GetMachines()
		case !start && call.StopMaintenance != nil:
			ids = call.GetStopMaintenance().GetMachines()
		case start:
			return httpapi.BadRequest("Failed to validate master::Call: Expecting 'start_maintenance' to be present")
		default:
			return httpapi.BadRequest("Failed to validate master::Call: Expecting 'stop_maintenance' to be present")
		}
		if err := m.authorizeMaintenance(r, start); err != nil {
			return err
		}
		if err := onCore(func(c *core) error {
			if start {
				return c.startMaintenance(ids)
			}
			return c.stopMaintenance(ids)
		}); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	case masterpb.Call_DRAIN_AGENT:
		d := call.GetDrainAgent()
		if d.GetAgentId().GetValue() == "" {
			return httpapi.BadRequest("Failed to validate master::Call: Expecting 'drain_agent.agent_id' to be present")
		}
		if err := m.authorize(r, acl.DrainAgents, acl.AnyObject, "drain agents"); err != nil {
			return err
		}
		var maxGrace *time.Duration
		if g := d.GetMaxGracePeriod(); g != nil {
			if err := g.CheckValid(); err != nil || g.AsDuration() < 0 {
				return httpapi.BadRequest("Failed to validate master::Call: 'drain_agent.max_grace_period' must be a non-negative duration")
			}
			v := g.AsDuration()
			maxGrace = &v
		}
		return m.onCoreOK(w, func(c *core) error { return c.drainAgent(d.GetAgentId().GetValue(), maxGrace, d.GetMarkGone()) })
	case masterpb.Call_DEACTIVATE_AGENT, masterpb.Call_REACTIVATE_AGENT:
		deactivate := call.GetType() == masterpb.Call_DEACTIVATE_AGENT
		id := call.GetDeactivateAgent().GetAgentId().GetValue()
		field := "deactivate_agent.agent_id"
		if !deactivate {
			id, field = call.GetReactivateAgent().GetAgentId().GetValue(), "reactivate_agent.agent_id"
		}
		if id == "" {
			return httpapi.BadRequest("Failed to validate master::Call: Expecting '%s' to be present", field)
		}
		action, what := acl.DeactivateAgents, "deactivate agents"
		if !deactivate {
			action, what = acl.ReactivateAgents, "reactivate agents"
		}
		if err := m.authorize(r, action, acl.AnyObject, what); err != nil {
			return err
		}
		if err := onCore(func(c *core) error {
			if deactivate {
				return c.deactivateAgent(id)
			}
			return c.reactivateAgent(id)
		}); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	case masterpb.Call_GET_STATE, masterpb.Call_GET_AGENTS, masterpb.Call_GET_FRAMEWORKS,
		masterpb.Call_GET_EXECUTORS, masterpb.Call_GET_TASKS:
		b, err := m.encodeRead(r.Context(), 0, func(s *snapshot) ([]byte, error) {
			return s.memoBytes(call.GetType().String()+" "+format.String()+vw.key(), func() ([]byte, error) {
				resp, err := s.view.stateResponse(call.GetType())
				if err != nil {
					return nil, err
				}
				resp = s.view.viewStateResponse(resp, vw)
				return encodeState(format, resp)
			})
		})
		if err != nil {
			return err
		}
		return writeEncoded(w, format, b)
	case masterpb.Call_TEARDOWN:
		if call.Teardown == nil {
			return httpapi.BadRequest("Failed to validate master::Call: Expecting 'teardown' to be present")
		}
		id := call.GetTeardown().GetFrameworkId().GetValue()
		s := requestSubject(r)
		return m.onCoreOK(w, func(c *core) error { return c.operatorTeardown(s, id) })
	case masterpb.Call_SUBSCRIBE:
		return m.operatorSubscribe(w, r, format, vw)
	case masterpb.Call_SET_QUOTA:
		if call.SetQuota == nil {
			return httpapi.BadRequest("Failed to validate master::Call: Expecting 'set_quota' to be present")
		}
		qc, err := legacyQuota(call.GetSetQuota().GetQuotaRequest())
		if err != nil {
			return err
		}
		if err := m.authorize(r, acl.UpdateQuotas, acl.Value(qc.GetRole()), "set the quota of role '"+qc.GetRole()+"'"); err != nil {
			return err
		}
		return m.onCoreOK(w, func(c *core) error { return c.setLegacyQuota(call.GetSetQuota().GetQuotaRequest().GetForce(), qc) })
	case masterpb.Call_REMOVE_QUOTA:
		if call.RemoveQuota == nil {
			return httpapi.BadRequest("Failed to validate master::Call: Expecting 'remove_quota' to be present")
		}
		role := call.GetRemoveQuota().GetRole()
		if err := m.authorize(r, acl.UpdateQuotas, acl.Value(role), "remove the quota of role '"+role+"'"); err != nil {
			return err
		}
		return m.onCoreOK(w, func(c *core) error { return c.removeLegacyQuota(call.GetRemoveQuota().GetRole()) })
	case masterpb.Call_LIST_FILES:
		if call.GetListFiles().GetPath() == "" {
			return httpapi.BadRequest("Failed to validate master::Call: Expecting 'list_files.path' to be present")
		}
		if err := m.authorizeFile(r, call.GetListFiles().GetPath()); err != nil {
			return err
		}
		lf, err := m.listFiles(r.Context(), call.GetListFiles().GetPath())
		if err != nil {
			return err
		}
		return respond(masterpb.Response_LIST_FILES, func(resp *masterpb.Response) { resp.ListFiles = lf })
	case masterpb.Call_READ_FILE:
		if call.GetReadFile().GetPath() == "" {
			return httpapi.BadRequest("Failed to validate master::Call: Expecting 'read_file.path' to be present")
		}
		if err := m.authorizeFile(r, call.GetReadFile().GetPath()); err != nil {
			return err
		}
		rf, err := m.readFile(r.Context(), call.GetReadFile())
		if err != nil {
			return err
		}
		return respond(masterpb.Response_READ_FILE, func(resp *masterpb.Response) { resp.ReadFile = rf })
	case masterpb.Call_UNKNOWN:
		return httpapi.NotImplemented("")
	}
	return httpapi.NotImplemented("Call %s is not implemented by this master yet", call.GetType())
}

// operatorConversion picks the agent, operation and resources of a
// reservation or volume call.
func operatorConversion(call *masterpb.Call) (string, mesos.Offer_Operation_Type, []*mesos.Resource, error) {
	missing := func(field string) error {
		return httpapi.BadRequest("Failed to validate master::Call: Expecting '%s' to be present", field)
	}
	switch call.GetType() {
	case masterpb.Call_RESERVE_RESOURCES:
		rr := call.GetReserveResources()
		if rr == nil {
			return "", 0, nil, missing("reserve_resources")
		}
		return rr.GetAgentId().GetValue(), mesos.Offer_Operation_RESERVE, rr.GetResources(), nil
	case masterpb.Call_UNRESERVE_RESOURCES:
		ur := call.GetUnreserveResources()
		if ur == nil {
			return "", 0, nil, missing("unreserve_resources")
		}
		return ur.GetAgentId().GetValue(), mesos.Offer_Operation_UNRESERVE, ur.GetResources(), nil
	case masterpb.Call_CREATE_VOLUMES:
		cv := call.GetCreateVolumes()
		if cv == nil {
			return "", 0, nil, missing("create_volumes")
		}
		return cv.GetAgentId().GetValue(), mesos.Offer_Operation_CREATE, cv.GetVolumes(), nil
	default:
		dv := call.GetDestroyVolumes()
		if dv == nil {
			return "", 0, nil, missing("destroy_volumes")
		}
		return dv.GetAgentId().GetValue(), mesos.Offer_Operation_DESTROY, dv.GetVolumes(), nil
	}
}

// maintenanceScheduleJSON is /maintenance/schedule: GET answers the
// schedule as JSON, POST replaces it with the JSON schedule in the body
// (200, or 400 when invalid), as Mesos' endpoint does.
func (m *Master) maintenanceScheduleJSON(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodGet:
		vw := m.viewerFor(r)
		return m.protoJSONRead(w, r, func(v *core) proto.Message { return viewSchedule(v.maint.schedule, vw) })
	case http.MethodPost:
		s := &maintenance.Schedule{}
		if err := readProtoJSON(w, r, s); err != nil {
			return err
		}
		if err := m.authorize(r, acl.UpdateMaintenanceSchedules, acl.AnyObject, "update the maintenance schedule"); err != nil {
			return err
		}
		return m.onCoreOK(w, func(c *core) error { return c.updateMaintenanceSchedule(s) })
	}
	w.Header().Set("Allow", "GET, POST")
	return httpapi.Errorf(http.StatusMethodNotAllowed, "Expecting 'GET' or 'POST', received '%s'", r.Method)
}

// maintenanceStatusJSON is /maintenance/status: the cluster's maintenance
// status as JSON.
func (m *Master) maintenanceStatusJSON(w http.ResponseWriter, r *http.Request) error {
	vw := m.viewerFor(r)
	return m.protoJSONRead(w, r, func(v *core) proto.Message { return viewMaintenanceStatus(v.maintenanceStatus(), vw) })
}

// machineDownJSON is /machine/down: POST a JSON list of machine ids to
// start their maintenance (START_MAINTENANCE).
func (m *Master) machineDownJSON(w http.ResponseWriter, r *http.Request) error {
	return m.machinesJSON(w, r, true)
}

// machineUpJSON is /machine/up: POST a JSON list of machine ids to stop
// their maintenance (STOP_MAINTENANCE).
func (m *Master) machineUpJSON(w http.ResponseWriter, r *http.Request) error {
	return m.machinesJSON(w, r, false)
}

func (m *Master) machinesJSON(w http.ResponseWriter, r *http.Request, down bool) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return httpapi.Errorf(http.StatusMethodNotAllowed, "Expecting 'POST', received '%s'", r.Method)
	}
	body, err := httpapi.ReadBody(w, r, 0)
	if err != nil {
		return err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return httpapi.BadRequest("Failed to parse the machines: %v", err)
	}
	ids := make([]*mesos.MachineID, len(raw))
	for i, b := range raw {
		ids[i] = &mesos.MachineID{}
		if err := codec.Unmarshal(codec.JSON, b, ids[i]); err != nil {
			return httpapi.BadRequest("Failed to parse the machines: %v", err)
		}
	}
	if err := m.authorizeMaintenance(r, down); err != nil {
		return err
	}
	return m.onCoreOK(w, func(c *core) error {
		if down {
			return c.startMaintenance(ids)
		}
		return c.stopMaintenance(ids)
	})
}

// readProtoJSON decodes a request body of JSON into msg: 413 when it is
// too large, 400 when it does not parse.
func readProtoJSON(w http.ResponseWriter, r *http.Request, msg proto.Message) error {
	body, err := httpapi.ReadBody(w, r, 0)
	if err != nil {
		return err
	}
	if err := codec.Unmarshal(codec.JSON, body, msg); err != nil {
		return httpapi.BadRequest("Failed to parse the body: %v", err)
	}
	return nil
}

// protoJSONRead answers r with the message view makes from a snapshot, as
// JSON (encodeRead).
func (m *Master) protoJSONRead(w http.ResponseWriter, r *http.Request, view func(v *core) proto.Message) error {
	b, err := m.encodeRead(r.Context(), 0, func(s *snapshot) ([]byte, error) { return codec.MarshalJSON(view(s.view)) })
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b)
	return err
}

func writeProtoJSON(w http.ResponseWriter, msg proto.Message) error {
	b, err := codec.MarshalJSON(msg)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b)
	return err
}

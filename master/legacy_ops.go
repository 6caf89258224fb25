package master

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	quotapb "github.com/mezzo-project/mezzo/api/v1/quota"
	"github.com/mezzo-project/mezzo/internal/acl"
	"github.com/mezzo-project/mezzo/resources"
)

// This file holds Mesos' older operator endpoints, which predate the v1
// operator API and are still what many scripts use: /reserve,
// /unreserve, /create-volumes and /destroy-volumes (POST, a form body
// naming the agent and the resources as a JSON array), /weights (GET,
// PUT) and /quota (GET, POST, DELETE /quota/<role>, with the deprecated
// SET_QUOTA and REMOVE_QUOTA calls). They share the core's operations
// with the v1 calls.

// conversionEndpoint answers POST /reserve, /unreserve, /create-volumes
// and /destroy-volumes: the form body carries "slaveId" and, under key, a
// JSON array of v1 Resource objects. 202 when the operation is applied,
// 409 when the agent's unallocated resources cannot cover it, 400 for
// anything malformed or invalid, 405 for other methods.
func (m *Master) conversionEndpoint(kind mesos.Offer_Operation_Type, key string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := httpapi.RequirePOST(r); err != nil {
			return err
		}
		form, err := readForm(w, r)
		if err != nil {
			return err
		}
		if _, ok := form["slaveId"]; !ok {
			return httpapi.BadRequest("Missing 'slaveId' query parameter in the request body")
		}
		res, err := formResources(form, key)
		if err != nil {
			return err
		}
		if kind == mesos.Offer_Operation_RESERVE {
			if err := checkReserveSource(form, res); err != nil {
				return err
			}
		}
		if err := m.authorizeConversion(r, conversionOperation(kind, res)); err != nil {
			return err
		}
		var callErr error
		if err := m.do(func(c *core) { callErr = c.operatorConvert(form.Get("slaveId"), kind, res) }); err != nil {
			return unavailable(err)
		}
		if callErr != nil {
			return callErr
		}
		return httpapi.Accepted(w)
	}
}

// readForm decodes a form-encoded request body.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	body, err := httpapi.ReadBody(w, r, 0)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, httpapi.BadRequest("Unable to decode query string: %v", err)
	}
	return form, nil
}

// formResources parses form[key], a JSON array of v1 Resource objects.
func formResources(form url.Values, key string) ([]*mesos.Resource, error) {
	if _, ok := form[key]; !ok {
		return nil, httpapi.BadRequest("Missing '%s' query parameter in the request body", key)
	}
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(form.Get(key)), &items); err != nil {
		return nil, httpapi.BadRequest("Error parsing '%s' query parameter in the request body: expecting a JSON array: %v", key, err)
	}
	out := make([]*mesos.Resource, 0, len(items))
	for i, item := range items {
		res := &mesos.Resource{}
		if err := codec.UnmarshalJSON(item, res); err != nil {
			return nil, httpapi.BadRequest("Error parsing '%s' query parameter in the request body: element %d: %v", key, i, err)
		}
		out = append(out, res)
	}
	return out, nil
}

// checkReserveSource accepts /reserve's optional "source", the resources a
// reservation is made from, when it is what the reservation implies: the
// same resources with their last reservation taken off. (Mesos allows a
// source only of that shape too; anything else is refused, not ignored.)
func checkReserveSource(form url.Values, res []*mesos.Resource) error {
	if _, ok := form["source"]; !ok {
		return nil
	}
	source, err := formResources(form, "source")
	if err != nil {
		return err
	}
	to, err := parseResources(res)
	if err != nil {
		return httpapi.BadRequest("Invalid resources: %v", err)
	}
	from, err := parseResources(source)
	if err != nil {
		return httpapi.BadRequest("Invalid source: %v", err)
	}
	implied, err := to.PopReservation()
	if err != nil {
		return httpapi.BadRequest("Invalid RESERVE operation: %v", err)
	}
	if !implied.Equal(from) {
		return httpapi.BadRequest("Invalid RESERVE operation: source %s is not the reserved resources %s without their last reservation (%s)",
			resources.Format(from), resources.Format(to), resources.Format(implied))
	}
	return nil
}

// weightsJSON is /weights: GET lists the roles' weights as a JSON array of
// WeightInfo; PUT replaces the weights of the roles it names (200; 400 for
// malformed JSON or an invalid weight or role).
func (m *Master) weightsJSON(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodGet:
		vw := m.viewerFor(r)
		b, err := m.encodeRead(r.Context(), 0, func(s *snapshot) ([]byte, error) {
			infos := viewWeights(s.view.weightInfos(), vw)
			items := make([]json.RawMessage, 0, len(infos))
			for _, info := range infos {
				b, err := codec.MarshalJSON(info)
				if err != nil {
					return nil, err
				}
				items = append(items, b)
			}
			return json.Marshal(items)
		})
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		_, err = w.Write(b)
		return err
	case http.MethodPut:
		body, err := httpapi.ReadBody(w, r, 0)
		if err != nil {
			return err
		}
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			return httpapi.BadRequest("Failed to parse update weights request JSON: expecting an array of WeightInfo: %v", err)
		}
		infos := make([]*mesos.WeightInfo, 0, len(items))
		for i, item := range items {
			info := &mesos.WeightInfo{}
			if err := codec.UnmarshalJSON(item, info); err != nil {
				return httpapi.BadRequest("Failed to convert weights JSON array to protobuf: element %d: %v", i, err)
			}
			if info.Role == nil || info.Weight == nil {
				return httpapi.BadRequest("Failed to convert weights JSON array to protobuf: element %d: expecting 'role' and 'weight'", i)
			}
			infos = append(infos, proto.Clone(info).(*mesos.WeightInfo))
		}
		for _, wi := range infos {
			if err := m.authorize(r, acl.UpdateWeights, acl.Value(wi.GetRole()), "update the weight of role '"+wi.GetRole()+"'"); err != nil {
				return err
			}
		}
		return m.onCoreOK(w, func(c *core) error { return c.updateWeights(infos) })
	}
	return &httpapi.Error{
		Status:  http.StatusMethodNotAllowed,
		Message: "Expecting 'GET' or 'PUT', received '" + r.Method + "'",
		Header:  http.Header{"Allow": {"GET, PUT"}},
	}
}

// legacyQuota turns a pre-1.9 QuotaRequest (SET_QUOTA, POST /quota) into
// the QuotaConfig Mesos makes of it: its guarantee is both the role's
// guarantees and its limits. The guarantee must name each scalar resource
// once, without reservations, disk or revocable information.
func legacyQuota(req *quotapb.QuotaRequest) (*quotapb.QuotaConfig, error) {
	invalid := func(format string, args ...any) error {
		return httpapi.BadRequest("Failed to validate set quota request: "+format, args...)
	}
	role := req.GetRole()
	if role == "" {
		return nil, invalid("QuotaInfo must specify a role")
	}
	if err := resources.ValidateRole(role); err != nil || role == resources.UnreservedRole {
		return nil, invalid("QuotaInfo with invalid role '%s'", role)
	}
	if strings.Contains(role, "/") {
		return nil, httpapi.BadRequest("Setting quota on nested role '%s' is not supported yet", role)
	}
	if len(req.GetGuarantee()) == 0 {
		return nil, invalid("QuotaInfo with empty 'guarantee'")
	}
	amounts := map[string]*mesos.Value_Scalar{}
	for _, r := range req.GetGuarantee() {
		switch {
		case r.GetType() != mesos.Value_SCALAR || r.Scalar == nil:
			return nil, invalid("QuotaInfo must not include non-scalar resources ('%s')", r.GetName())
		case len(r.GetReservations()) > 0 || r.Reservation != nil || (r.Role != nil && r.GetRole() != resources.UnreservedRole):
			return nil, invalid("QuotaInfo must not contain any ReservationInfo ('%s')", r.GetName())
		case r.Disk != nil:
			return nil, invalid("QuotaInfo must not contain DiskInfo ('%s')", r.GetName())
		case r.Revocable != nil:
			return nil, invalid("QuotaInfo must not contain RevocableInfo ('%s')", r.GetName())
		case amounts[r.GetName()] != nil:
			return nil, invalid("QuotaInfo contains duplicate resource name '%s'", r.GetName())
		}
		amounts[r.GetName()] = &mesos.Value_Scalar{Value: proto.Float64(r.GetScalar().GetValue())}
	}
	limits := map[string]*mesos.Value_Scalar{}
	for name, v := range amounts {
		limits[name] = proto.Clone(v).(*mesos.Value_Scalar)
	}
	return &quotapb.QuotaConfig{Role: proto.String(role), Guarantees: amounts, Limits: limits}, nil
}

// setLegacyQuota applies SET_QUOTA / POST /quota: only for a role without
// quota (200; 400 otherwise), checked against the cluster's capacity
// unless forced (409).
func (c *core) setLegacyQuota(force bool, qc *quotapb.QuotaConfig) error {
	if p, busy := c.whenFree([]string{rolesKey}, func() error { return c.setLegacyQuota(force, qc) }); busy {
		return p
	}
	if _, ok := c.quotas[qc.GetRole()]; ok {
		return invalidf("Failed to validate set quota request: Cannot set quota for role '%s' which already has quota", qc.GetRole())
	}
	return c.updateQuota(force, []*quotapb.QuotaConfig{qc})
}

// removeLegacyQuota applies REMOVE_QUOTA / DELETE /quota/<role>: the role
// goes back to no guarantees and no limits (400 when it has no quota).
func (c *core) removeLegacyQuota(role string) error {
	if p, busy := c.whenFree([]string{rolesKey}, func() error { return c.removeLegacyQuota(role) }); busy {
		return p
	}
	if _, ok := c.quotas[role]; !ok {
		return invalidf("Failed to remove quota: Role '%s' has no quota set", role)
	}
	return c.updateQuota(true, []*quotapb.QuotaConfig{{Role: proto.String(role)}})
}

// quotaJSON is the deprecated /quota endpoint: GET answers the QuotaStatus
// as JSON, POST sets a role's quota from a QuotaRequest in JSON,
// DELETE /quota/<role> removes it.
func (m *Master) quotaJSON(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodGet:
		vw := m.viewerFor(r)
		return m.protoJSONRead(w, r, func(v *core) proto.Message { return viewQuota(v.quotaStatus(), vw) })
	case http.MethodPost:
		req := &quotapb.QuotaRequest{}
		if err := readProtoJSON(w, r, req); err != nil {
			return err
		}
		qc, err := legacyQuota(req)
		if err != nil {
			return err
		}
		if err := m.authorize(r, acl.UpdateQuotas, acl.Value(qc.GetRole()), "set the quota of role '"+qc.GetRole()+"'"); err != nil {
			return err
		}
		return m.onCoreOK(w, func(c *core) error { return c.setLegacyQuota(req.GetForce(), qc) })
	case http.MethodDelete:
		role := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/master"), "/quota")
		role = strings.Trim(role, "/")
		if role == "" {
			return httpapi.BadRequest("Failed to parse remove quota request for path '%s': expected /quota/<role>", r.URL.Path)
		}
		if err := m.authorize(r, acl.UpdateQuotas, acl.Value(role), "remove the quota of role '"+role+"'"); err != nil {
			return err
		}
		return m.onCoreOK(w, func(c *core) error { return c.removeLegacyQuota(role) })
	}
	return &httpapi.Error{
		Status:  http.StatusMethodNotAllowed,
		Message: "Expecting 'GET', 'POST' or 'DELETE', received '" + r.Method + "'",
		Header:  http.Header{"Allow": {"GET, POST, DELETE"}},
	}
}

package master

import (
	"context"
	"net"
	"net/http"
	"strconv"

	"github.com/mezzo-project/mezzo/api/v1/httpapi"
)

// agentStatistics is GET /monitor/statistics?agent_id=<id> (also under
// /master/), beyond Mesos: the registered agent's own /monitor/statistics
// (its executors' resource usage, Mesos' JSON), forwarded by the master
// with the files proxy's client, timeout and size bound, so that a
// client that reaches only the master (the web UI, `mezzo top`) can show
// containers' usage. An unknown agent is 404 naming it, one that cannot
// be reached 503.
func (m *Master) agentStatistics(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return &httpapi.Error{Status: http.StatusMethodNotAllowed, Message: "Expecting 'GET', received '" + r.Method + "'",
			Header: http.Header{"Allow": {"GET"}}}
	}
	id := r.URL.Query().Get("agent_id")
	if id == "" {
		return httpapi.BadRequest("Missing 'agent_id' query parameter")
	}
	if err := validateID(id); err != nil {
		return httpapi.BadRequest("Invalid agent_id '%s': %v", id, err)
	}
	s, err := m.read(r.Context())
	if err != nil {
		return unavailable(err)
	}
	a := s.view.agents[id]
	if a == nil {
		return httpapi.Errorf(http.StatusNotFound, "Agent '%s' is not registered with this master", id)
	}
	target := agentFile{id: id, addr: net.JoinHostPort(a.ip, strconv.Itoa(a.port))}
	ctx, cancel := context.WithTimeout(r.Context(), filesProxyTimeout)
	defer cancel()
	resp, err := m.agentRequest(ctx, target, http.MethodGet, "/monitor/statistics", nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := readCapped(target, resp.Body)
	if err != nil {
		return err
	}
	return relay(w, resp, body)
}

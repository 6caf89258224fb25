package master

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// httpDo sends a request with a body of the given type and returns the
// status and body of the answer.
func httpDo(t *testing.T, method, url, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// formPost sends a form-encoded body.
func formPost(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	return httpDo(t, method, url, "application/x-www-form-urlencoded", body)
}

// TestLegacyReservationEndpoints drives /reserve, /create-volumes,
// /destroy-volumes and /unreserve as Mesos' documentation shows them, and
// checks /master/slaves reports the result in full.
func TestLegacyReservationEndpoints(t *testing.T) {
	_, srv := testMaster(t)
	agent, _ := registerAgentStream(t, srv.URL, "localhost", "cpus:4;mem:1024;disk:1000")

	reserved := `[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"DYNAMIC","role":"db","principal":"ops"}]},` +
		`{"name":"disk","type":"SCALAR","scalar":{"value":100},"reservations":[{"type":"DYNAMIC","role":"db","principal":"ops"}]}]`
	volume := `[{"name":"disk","type":"SCALAR","scalar":{"value":100},"reservations":[{"type":"DYNAMIC","role":"db","principal":"ops"}],` +
		`"disk":{"persistence":{"id":"v1","principal":"ops"},"volume":{"mode":"RW","container_path":"data"}}}]`
	unreserved := `[{"name":"cpus","type":"SCALAR","scalar":{"value":1}},{"name":"disk","type":"SCALAR","scalar":{"value":100}}]`
	for _, c := range []struct {
		method, path string
		form         url.Values
		code         int
		msg          string
	}{
		{http.MethodGet, "/master/reserve", nil, http.StatusMethodNotAllowed, "POST"},
		{http.MethodPost, "/master/reserve", url.Values{"resources": {reserved}}, http.StatusBadRequest, "Missing 'slaveId'"},
		{http.MethodPost, "/master/reserve", url.Values{"slaveId": {agent}}, http.StatusBadRequest, "Missing 'resources'"},
		{http.MethodPost, "/master/reserve", url.Values{"slaveId": {agent}, "resources": {"{not json"}}, http.StatusBadRequest, "Error parsing 'resources'"},
		{http.MethodPost, "/master/reserve", url.Values{"slaveId": {agent}, "resources": {`[{"name":"cpus","type":"SCALAR","scalar":{"value":"x"}}]`}}, http.StatusBadRequest, "element 0"},
		{http.MethodPost, "/master/reserve", url.Values{"slaveId": {"nope"}, "resources": {reserved}}, http.StatusBadRequest, "No agent"},
		{http.MethodPost, "/master/reserve", url.Values{"slaveId": {agent}, "resources": {unreserved}}, http.StatusBadRequest, "not a dynamic reservation"},
		{http.MethodPost, "/master/reserve", url.Values{"slaveId": {agent}, "resources": {reserved}, "source": {`[{"name":"mem","type":"SCALAR","scalar":{"value":1}}]`}}, http.StatusBadRequest, "source"},
		{http.MethodPost, "/master/reserve", url.Values{"slaveId": {agent}, "resources": {reserved}, "source": {unreserved}}, http.StatusAccepted, ""},
		{http.MethodPost, "/master/reserve", url.Values{"slaveId": {agent}, "resources": {strings.ReplaceAll(reserved, `"value":1}`, `"value":10}`)}}, http.StatusConflict, ""},
		{http.MethodPost, "/master/create-volumes", url.Values{"slaveId": {agent}, "resources": {volume}}, http.StatusBadRequest, "Missing 'volumes'"},
		{http.MethodPost, "/master/create-volumes", url.Values{"slaveId": {agent}, "volumes": {volume}}, http.StatusAccepted, ""},
	} {
		code, msg := formPost(t, c.method, srv.URL+c.path, c.form.Encode())
		if code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s %s %v: %d %q, want %d %q", c.method, c.path, c.form, code, msg, c.code, c.msg)
		}
	}

	slaves := func() map[string]any {
		t.Helper()
		resp, err := http.Get(srv.URL + "/master/slaves?slave_id=" + agent)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc struct{ Slaves []map[string]any }
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || len(doc.Slaves) != 1 {
			t.Fatalf("/master/slaves: %v %+v", err, doc)
		}
		return doc.Slaves[0]
	}
	full, _ := json.Marshal(slaves()["reserved_resources_full"])
	if !strings.Contains(string(full), `"db"`) || !strings.Contains(string(full), `"persistence":{"id":"v1"`) {
		t.Errorf("reserved_resources_full after reserve and create: %s", full)
	}

	for _, c := range []struct {
		path string
		form url.Values
	}{
		{"/master/destroy-volumes", url.Values{"slaveId": {agent}, "volumes": {volume}}},
		{"/master/unreserve", url.Values{"slaveId": {agent}, "resources": {reserved}}},
	} {
		if code, msg := formPost(t, http.MethodPost, srv.URL+c.path, c.form.Encode()); code != http.StatusAccepted {
			t.Errorf("%s: %d %q", c.path, code, msg)
		}
	}
	if full, _ := json.Marshal(slaves()["reserved_resources_full"]); string(full) != "{}" {
		t.Errorf("reserved_resources_full after destroy and unreserve: %s", full)
	}
}

// TestLegacyWeightsEndpoint checks GET and PUT /weights.
func TestLegacyWeightsEndpoint(t *testing.T) {
	_, srv := testMaster(t)
	for _, c := range []struct {
		method, body string
		code         int
		msg          string
	}{
		{http.MethodPut, `[{"role":"eng","weight":2.5},{"role":"ads","weight":0.5}]`, http.StatusOK, ""},
		{http.MethodPut, `{"role":"eng"}`, http.StatusBadRequest, "array"},
		{http.MethodPut, `[{"role":"eng"}]`, http.StatusBadRequest, "weight"},
		{http.MethodPut, `[{"role":"eng","weight":-1}]`, http.StatusBadRequest, ""},
		{http.MethodPost, `[]`, http.StatusMethodNotAllowed, "PUT"},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+"/weights", strings.NewReader(c.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(b), c.msg) {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.body, resp.StatusCode, b, c.code, c.msg)
		}
	}
	resp, err := http.Get(srv.URL + "/master/weights")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []struct {
		Role   string
		Weight float64
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Role != "ads" || got[0].Weight != 0.5 || got[1].Role != "eng" || got[1].Weight != 2.5 {
		t.Errorf("GET /weights: %+v", got)
	}
}

// TestLegacyQuota checks the deprecated quota interfaces, /quota and the
// SET_QUOTA / REMOVE_QUOTA calls: a QuotaRequest's guarantee becomes both
// guarantees and limits; a role gets quota once, until removed.
func TestLegacyQuota(t *testing.T) {
	_, srv := testMaster(t)
	registerAgentStream(t, srv.URL, "a", "cpus:4;mem:4096")
	do := func(method, path, body string) (int, string) {
		t.Helper()
		return httpDo(t, method, srv.URL+path, "application/json", body)
	}
	guarantee := `[{"name":"cpus","type":"SCALAR","scalar":{"value":1}},{"name":"mem","type":"SCALAR","scalar":{"value":512}}]`
	for _, c := range []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{http.MethodPost, "/quota", `{"role":"eng","guarantee":` + guarantee + `}`, http.StatusOK, ""},
		{http.MethodPost, "/quota", `{"role":"eng","guarantee":` + guarantee + `}`, http.StatusBadRequest, "already has quota"},
		{http.MethodPost, "/quota", `{"role":"ads","guarantee":[{"name":"cpus","type":"SCALAR","scalar":{"value":100}}]}`, http.StatusConflict, ""},
		{http.MethodPost, "/quota", `{"role":"ads","force":true,"guarantee":[{"name":"cpus","type":"SCALAR","scalar":{"value":100}}]}`, http.StatusOK, ""},
		{http.MethodPost, "/quota", `{"role":"eng/x","guarantee":` + guarantee + `}`, http.StatusBadRequest, "nested role"},
		{http.MethodPost, "/quota", `{"guarantee":` + guarantee + `}`, http.StatusBadRequest, "must specify a role"},
		{http.MethodPost, "/quota", `{"role":"web","guarantee":[]}`, http.StatusBadRequest, "empty 'guarantee'"},
		{http.MethodPost, "/quota", `{"role":"web","guarantee":[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1,"end":2}]}}]}`, http.StatusBadRequest, "non-scalar"},
		{http.MethodPost, "/quota", `{"role":"web","guarantee":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}},{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]}`, http.StatusBadRequest, "duplicate"},
		{http.MethodPost, "/quota", `{"role":`, http.StatusBadRequest, ""},
		{http.MethodDelete, "/quota/ads", "", http.StatusOK, ""},
		{http.MethodDelete, "/quota/ads", "", http.StatusBadRequest, "has no quota set"},
		{http.MethodDelete, "/quota", "", http.StatusBadRequest, "/quota/<role>"},
		{http.MethodPut, "/quota", "", http.StatusMethodNotAllowed, "DELETE"},
		{http.MethodPost, "/api/v1", `{"type":"SET_QUOTA","set_quota":{"quota_request":{"role":"db","guarantee":` + guarantee + `}}}`, http.StatusOK, ""},
		{http.MethodPost, "/api/v1", `{"type":"SET_QUOTA"}`, http.StatusBadRequest, "set_quota"},
		{http.MethodPost, "/api/v1", `{"type":"REMOVE_QUOTA","remove_quota":{"role":"db"}}`, http.StatusOK, ""},
		{http.MethodPost, "/api/v1", `{"type":"REMOVE_QUOTA","remove_quota":{"role":"db"}}`, http.StatusBadRequest, "has no quota set"},
	} {
		if code, msg := do(c.method, c.path, c.body); code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s %s %s: %d %q, want %d %q", c.method, c.path, c.body, code, msg, c.code, c.msg)
		}
	}
	code, body := do(http.MethodGet, "/master/quota", "")
	var st struct {
		Infos []struct {
			Role      string
			Guarantee []struct {
				Name   string
				Scalar struct{ Value float64 }
			}
		}
		Configs []struct {
			Role       string
			Guarantees map[string]struct{ Value float64 }
			Limits     map[string]struct{ Value float64 }
		}
	}
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
		t.Fatalf("GET /quota: %d %v %s", code, err, body)
	}
	if len(st.Configs) != 1 || st.Configs[0].Role != "eng" || st.Configs[0].Guarantees["mem"].Value != 512 || st.Configs[0].Limits["cpus"].Value != 1 ||
		len(st.Infos) != 1 || len(st.Infos[0].Guarantee) != 2 {
		t.Errorf("GET /quota: %s", body)
	}
}

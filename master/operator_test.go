package master

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/resources"
)

// operatorCall posts a JSON master::Call and returns the status and body.
func operatorCall(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp := post(t, url+"/api/v1", "application/json", []byte(body), nil)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestOperatorWeightsQuotaAndRoles(t *testing.T) {
	_, srv := testMaster(t)
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"type":"UPDATE_WEIGHTS","update_weights":{"weight_infos":[{"role":"eng","weight":2.5}]}}`, 200},
		{`{"type":"UPDATE_WEIGHTS","update_weights":{"weight_infos":[{"role":"eng","weight":-1}]}}`, 400},
		{`{"type":"UPDATE_QUOTA","update_quota":{"quota_configs":[{"role":"eng","guarantees":{"cpus":{"value":1}},"limits":{"cpus":{"value":4}}}]}}`, 409},
		{`{"type":"UPDATE_QUOTA","update_quota":{"force":true,"quota_configs":[{"role":"eng","guarantees":{"cpus":{"value":1}},"limits":{"cpus":{"value":4}}}]}}`, 200},
		{`{"type":"UPDATE_QUOTA","update_quota":{"force":true,"quota_configs":[{"role":"eng","guarantees":{"cpus":{"value":5}},"limits":{"cpus":{"value":4}}}]}}`, 400},
		{`{"type":"UPDATE_QUOTA","update_quota":{"force":true,"quota_configs":[{"role":"eng/ads","limits":{"cpus":{"value":8}}}]}}`, 400},
		{`{"type":"GET_HEALTH"}`, 200},
		{`{"type":"GET_OPERATIONS"}`, 200},
		{`{"type":"GROW_VOLUME"}`, 501},
		{`{"type":"GET_MAINTENANCE_STATUS"}`, 200},
		{`{"type":"GET_STATE"}`, 200},
		{`{"type":"RESERVE_RESOURCES","reserve_resources":{"agent_id":{"value":"nope"},"resources":[]}}`, 400},
	} {
		if got, body := operatorCall(t, srv.URL, tc.body); got != tc.want {
			t.Errorf("%s: status %d (%s), want %d", tc.body, got, body, tc.want)
		}
	}
	status, body := operatorCall(t, srv.URL, `{"type":"GET_WEIGHTS"}`)
	resp := &masterpb.Response{}
	if err := codec.Unmarshal(codec.JSON, []byte(body), resp); status != 200 || err != nil {
		t.Fatalf("GET_WEIGHTS: %d %s %v", status, body, err)
	}
	if w := resp.GetGetWeights().GetWeightInfos(); len(w) != 1 || w[0].GetWeight() != 2.5 {
		t.Errorf("weights %v", w)
	}
	_, body = operatorCall(t, srv.URL, `{"type":"GET_QUOTA"}`)
	resp = &masterpb.Response{}
	if err := codec.Unmarshal(codec.JSON, []byte(body), resp); err != nil {
		t.Fatal(err)
	}
	if c := resp.GetGetQuota().GetStatus().GetConfigs(); len(c) != 1 || c[0].GetLimits()["cpus"].GetValue() != 4 {
		t.Errorf("quota %v", c)
	}
	r, err := http.Get(srv.URL + "/master/roles")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var doc struct {
		Roles []struct {
			Name   string
			Weight float64
			Quota  struct{ Limit map[string]float64 }
		}
	}
	if err := json.NewDecoder(r.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Roles) != 1 || doc.Roles[0].Name != "eng" || doc.Roles[0].Weight != 2.5 || doc.Roles[0].Quota.Limit["cpus"] != 4 {
		t.Errorf("/roles %+v", doc)
	}
}

func TestOperatorReserveAndVolumes(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("a", "cpus:4;mem:1024;disk:1000")
	res := func(s string) resources.Resources {
		r, err := resources.Parse(s, "*")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	reserved, _ := res("cpus:1;disk:100").PushReservation(resources.Reservation{Type: resources.ReservationDynamic, Role: "db"})
	var err error
	h.step(func(c *core) {
		err = c.operatorConvert(a.id, mesos.Offer_Operation_RESERVE, resources.ToProto(reserved, resources.FormatPostRefinement))
	})
	if err != nil {
		t.Fatal(err)
	}
	// A volume on the reserved disk.
	var vol resources.Resources
	for r := range reserved.ByName("disk").All() {
		r.Disk = &resources.DiskInfo{Persistence: &resources.Persistence{ID: "v1"}, Volume: &resources.Volume{ContainerPath: "data", Mode: resources.VolumeRW}}
		vol, _ = resources.New(r)
	}
	h.step(func(c *core) {
		err = c.operatorConvert(a.id, mesos.Offer_Operation_CREATE, resources.ToProto(vol, resources.FormatPostRefinement))
	})
	if err != nil {
		t.Fatal(err)
	}
	// The same id again: 400.
	h.step(func(c *core) {
		err = c.operatorConvert(a.id, mesos.Offer_Operation_CREATE, resources.ToProto(vol, resources.FormatPostRefinement))
	})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("duplicate volume: %v", err)
	}
	// A framework in role db is offered the volume with its id.
	fdb := h.subscribe(multiRoleInfo("db"))
	found := false
	for _, o := range fdb.offers() {
		for _, r := range o.GetResources() {
			if r.GetDisk().GetPersistence().GetId() == "v1" {
				found = true
			}
		}
	}
	if !found {
		t.Fatal("volume v1 not offered to role db")
	}
	// More than is free: 409.
	big, _ := res("cpus:10").PushReservation(resources.Reservation{Type: resources.ReservationDynamic, Role: "db"})
	h.step(func(c *core) {
		err = c.operatorConvert(a.id, mesos.Offer_Operation_RESERVE, resources.ToProto(big, resources.FormatPostRefinement))
	})
	if httpStatus(err) != http.StatusConflict {
		t.Fatalf("reserve beyond free: %v", err)
	}
}

func multiRoleInfo(roles ...string) *mesos.FrameworkInfo {
	return &mesos.FrameworkInfo{
		Roles:        roles,
		Capabilities: []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE.Enum()}, {Type: mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT.Enum()}},
	}
}

func httpStatus(err error) int { return httpapi.StatusOf(err) }

package master

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

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
		{`{"type":"GROW_VOLUME"}`, 400},
		{`{"type":"SHRINK_VOLUME","shrink_volume":{"agent_id":{"value":"nope"},"volume":{"name":"disk","type":"SCALAR","scalar":{"value":1}},"subtract":{"value":1}}}`, 400},
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

// httpStatus is the status code the HTTP edge answers err with.
func httpStatus(err error) int { return httpapi.StatusOf(httpError(err)) }

// GROW_VOLUME and SHRINK_VOLUME resize a persistent volume: from the
// operator API on free resources, and in an ACCEPT on offered ones.
func TestResizeVolumes(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("a", "cpus:4;mem:1024;disk:1000")
	reserved := func(s string) resources.Resources {
		r, err := resources.Parse(s, "*")
		if err != nil {
			t.Fatal(err)
		}
		r, _ = r.PushReservation(resources.Reservation{Type: resources.ReservationDynamic, Role: "db"})
		return r
	}
	var vol resources.Resource
	for r := range reserved("disk:100").All() {
		r.Disk = &resources.DiskInfo{Persistence: &resources.Persistence{ID: "v1"}, Volume: &resources.Volume{ContainerPath: "data", Mode: resources.VolumeRW}}
		vol = r
	}
	vols, _ := resources.New(vol)
	step := func(what string, fn func(c *core) error) error {
		t.Helper()
		var err error
		h.step(func(c *core) { err = fn(c) })
		return err
	}
	if err := step("reserve", func(c *core) error {
		return c.operatorConvert(a.id, mesos.Offer_Operation_RESERVE, resources.ToProto(reserved("disk:300"), resources.FormatPostRefinement))
	}); err != nil {
		t.Fatal(err)
	}
	if err := step("create", func(c *core) error {
		return c.operatorConvert(a.id, mesos.Offer_Operation_CREATE, resources.ToProto(vols, resources.FormatPostRefinement))
	}); err != nil {
		t.Fatal(err)
	}
	volPB := resources.ToProto(vols, resources.FormatPostRefinement)[0]
	addition := resources.ToProto(reserved("disk:50"), resources.FormatPostRefinement)[0]
	grow := &mesos.Offer_Operation{Type: mesos.Offer_Operation_GROW_VOLUME.Enum(),
		GrowVolume: &mesos.Offer_Operation_GrowVolume{Volume: volPB, Addition: addition}}
	if err := step("grow", func(c *core) error { return c.operatorResize(a.id, grow) }); err != nil {
		t.Fatal(err)
	}
	size := func() float64 {
		for v := range h.c.agents[a.id].total.PersistentVolumes().All() {
			return v.Scalar.Float()
		}
		return 0
	}
	if got := size(); got != 150 {
		t.Fatalf("after GROW_VOLUME by 50: volume of %v", got)
	}
	// The volume as it is now, shrunk by 30.
	grownVols := h.c.agents[a.id].total.PersistentVolumes()
	shrink := &mesos.Offer_Operation{Type: mesos.Offer_Operation_SHRINK_VOLUME.Enum(),
		ShrinkVolume: &mesos.Offer_Operation_ShrinkVolume{Volume: resources.ToProto(grownVols, resources.FormatPostRefinement)[0],
			Subtract: &mesos.Value_Scalar{Value: proto.Float64(30)}}}
	if err := step("shrink", func(c *core) error { return c.operatorResize(a.id, shrink) }); err != nil {
		t.Fatal(err)
	}
	if got := size(); got != 120 {
		t.Fatalf("after SHRINK_VOLUME by 30: volume of %v", got)
	}
	if q := h.c.agents[a.id].total.ScalarQuantities(); q.Get("disk").Float() != 1000 {
		t.Errorf("the agent's disk changed in total: %v", q)
	}
	// Bad requests name the problem.
	stale := grow // the 100 MB volume no longer exists
	bad := []*mesos.Offer_Operation{
		stale,
		{Type: mesos.Offer_Operation_SHRINK_VOLUME.Enum(), ShrinkVolume: &mesos.Offer_Operation_ShrinkVolume{
			Volume: shrink.GetShrinkVolume().GetVolume(), Subtract: &mesos.Value_Scalar{Value: proto.Float64(500)}}},
		{Type: mesos.Offer_Operation_GROW_VOLUME.Enum(), GrowVolume: &mesos.Offer_Operation_GrowVolume{
			Volume:   resources.ToProto(h.c.agents[a.id].total.PersistentVolumes(), resources.FormatPostRefinement)[0],
			Addition: resources.ToProto(reserved("cpus:1"), resources.FormatPostRefinement)[0]}},
	}
	for i, op := range bad {
		if err := step("bad", func(c *core) error { return c.operatorResize(a.id, op) }); httpStatus(err) != http.StatusBadRequest {
			t.Errorf("bad operation %d: %v", i, err)
		}
	}

	// In an ACCEPT: a framework of role db grows the volume it is offered.
	f := h.subscribe(multiRoleInfo("db"))
	var offer *mesos.Offer
	var offered []*mesos.Resource
	for _, o := range f.offers() {
		offer, offered = o, o.GetResources()
	}
	var ov, od *mesos.Resource
	for _, r := range offered {
		if r.GetName() == "disk" && r.GetDisk().GetPersistence().GetId() == "v1" {
			ov = r
		} else if r.GetName() == "disk" && len(r.GetReservations()) > 0 {
			od = proto.Clone(r).(*mesos.Resource)
		}
	}
	if ov == nil || od == nil {
		t.Fatalf("offer lacks the volume or reserved disk: %v", offered)
	}
	od.Scalar = &mesos.Value_Scalar{Value: proto.Float64(10)}
	h.mustCall(f, acceptCall([]string{offer.GetId().GetValue()}, &mesos.Offer_Operation{Type: mesos.Offer_Operation_GROW_VOLUME.Enum(),
		GrowVolume: &mesos.Offer_Operation_GrowVolume{Volume: ov, Addition: od}}))
	if got := size(); got != 130 {
		t.Errorf("after GROW_VOLUME in an ACCEPT: volume of %v", got)
	}
}

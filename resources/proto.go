package resources

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"google.golang.org/protobuf/proto"
)

// ProtoFormat selects how ToProto writes reservations. Mesos has three
// forms of mesos.v1.Resource; they differ only there.
type ProtoFormat int

// The protobuf formats.
const (
	// FormatPostRefinement writes only the reservations stack: Mesos'
	// internal format, and what frameworks with the RESERVATION_REFINEMENT
	// capability get.
	FormatPostRefinement ProtoFormat = iota
	// FormatPreRefinement writes only the deprecated fields: role ("*"
	// when unreserved) and, for a dynamic reservation, reservation with
	// its principal and labels. This is what frameworks without
	// RESERVATION_REFINEMENT get. A resource with refined reservations has
	// no pre-refinement form; Mesos never sends one to such frameworks, and
	// ToProto writes its reservations stack instead.
	FormatPreRefinement
	// FormatEndpoint writes both: the reservations stack, plus role and
	// reservation for resources with at most one reservation. Mesos uses it
	// on HTTP endpoints and the operator API so that old and new readers
	// both understand the resources.
	FormatEndpoint
)

// ToProto converts rs to protobuf in format f, one message per distinct
// resource (a shared resource held in several copies is written once, as
// Mesos does).
func ToProto(rs Resources, f ProtoFormat) []*mesos.Resource {
	if len(rs.items) == 0 {
		return nil
	}
	out := make([]*mesos.Resource, len(rs.items))
	for i := range rs.items {
		out[i] = ResourceToProto(&rs.items[i].r, f)
	}
	return out
}

// ResourceToProto converts one resource to protobuf in format f.
func ResourceToProto(r *Resource, f ProtoFormat) *mesos.Resource {
	m := &mesos.Resource{
		Name: proto.String(r.Name),
		Type: mesos.Value_Type(r.Type).Enum(),
	}
	switch r.Type {
	case ValueScalar:
		m.Scalar = &mesos.Value_Scalar{Value: proto.Float64(r.Scalar.Float())}
	case ValueRanges:
		m.Ranges = rangesToProto(r.Ranges)
	case ValueSet:
		m.Set = &mesos.Value_Set{Item: slices.Clone(r.Set)}
	}

	legacy := f != FormatPostRefinement && len(r.Reservations) <= 1
	if legacy {
		m.Role = proto.String(r.Role())
		if r.IsDynamic() {
			res := &r.Reservations[0]
			m.Reservation = &mesos.Resource_ReservationInfo{Labels: labelsToProto(res.Labels)}
			if res.Principal != "" {
				m.Reservation.Principal = proto.String(res.Principal)
			}
		}
	}
	if !legacy || f == FormatEndpoint {
		for i := range r.Reservations {
			m.Reservations = append(m.Reservations, reservationToProto(&r.Reservations[i]))
		}
	}

	if d := r.Disk; d != nil {
		m.Disk = diskToProto(d)
	}
	if r.Revocable {
		m.Revocable = &mesos.Resource_RevocableInfo{}
	}
	if r.Shared {
		m.Shared = &mesos.Resource_SharedInfo{}
	}
	if r.AllocationRole != "" {
		m.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String(r.AllocationRole)}
	}
	if r.ProviderID != "" {
		m.ProviderId = &mesos.ResourceProviderID{Value: proto.String(r.ProviderID)}
	}
	return m
}

func rangesToProto(rs Ranges) *mesos.Value_Ranges {
	m := &mesos.Value_Ranges{Range: make([]*mesos.Value_Range, len(rs))}
	for i, r := range rs {
		m.Range[i] = &mesos.Value_Range{Begin: proto.Uint64(r.Begin), End: proto.Uint64(r.End)}
	}
	return m
}

func reservationToProto(res *Reservation) *mesos.Resource_ReservationInfo {
	m := &mesos.Resource_ReservationInfo{
		Type:   mesos.Resource_ReservationInfo_Type(res.Type).Enum(),
		Role:   proto.String(res.Role),
		Labels: labelsToProto(res.Labels),
	}
	if res.Principal != "" {
		m.Principal = proto.String(res.Principal)
	}
	return m
}

func labelsToProto(ls []Label) *mesos.Labels {
	if len(ls) == 0 {
		return nil
	}
	m := &mesos.Labels{Labels: make([]*mesos.Label, len(ls))}
	for i, l := range ls {
		m.Labels[i] = &mesos.Label{Key: proto.String(l.Key)}
		if l.HasValue {
			m.Labels[i].Value = proto.String(l.Value)
		}
	}
	return m
}

func diskToProto(d *DiskInfo) *mesos.Resource_DiskInfo {
	m := &mesos.Resource_DiskInfo{}
	if p := d.Persistence; p != nil {
		m.Persistence = &mesos.Resource_DiskInfo_Persistence{Id: proto.String(p.ID)}
		if p.Principal != "" {
			m.Persistence.Principal = proto.String(p.Principal)
		}
	}
	if v := d.Volume; v != nil {
		m.Volume = &mesos.Volume{
			ContainerPath: proto.String(v.ContainerPath),
			Mode:          mesos.Volume_Mode(v.Mode).Enum(),
		}
		if v.HostPath != "" {
			m.Volume.HostPath = proto.String(v.HostPath)
		}
	}
	if s := d.Source; s != nil {
		m.Source = &mesos.Resource_DiskInfo_Source{
			Type:     mesos.Resource_DiskInfo_Source_Type(s.Type).Enum(),
			Metadata: labelsToProto(s.Metadata),
		}
		switch {
		case s.Type == DiskSourcePath && s.Root != "":
			m.Source.Path = &mesos.Resource_DiskInfo_Source_Path{Root: proto.String(s.Root)}
		case s.Type == DiskSourceMount && s.Root != "":
			m.Source.Mount = &mesos.Resource_DiskInfo_Source_Mount{Root: proto.String(s.Root)}
		}
		optional := func(s string) *string {
			if s == "" {
				return nil
			}
			return proto.String(s)
		}
		m.Source.Vendor, m.Source.Id, m.Source.Profile = optional(s.Vendor), optional(s.ID), optional(s.Profile)
	}
	return m
}

// FromProto converts and validates resources from protobuf. Each message
// may be in the post-refinement format (reservations) or the
// pre-refinement format (role, reservation), or carry both consistently
// (the endpoint format): role and reservation are allowed next to a
// reservations stack of one level when they say the same. Each message
// must pass Resource.Validate; scalars must be finite, non-negative and not
// so small that they round to zero. Empty resources are dropped; each copy
// of a shared resource counts.
func FromProto(ms []*mesos.Resource) (Resources, error) {
	items := make([]item, 0, len(ms))
	for i, m := range ms {
		r, err := resourceFromProto(m, "")
		if err != nil {
			return Resources{}, fmt.Errorf("resources: resource %d (%q): %w", i, m.GetName(), err)
		}
		if !r.IsEmpty() {
			items = append(items, item{r: r, count: 1})
		}
	}
	return canonical(items), nil
}

// ResourceFromProto converts and validates one resource, as FromProto.
func ResourceFromProto(m *mesos.Resource) (Resource, error) {
	r, err := resourceFromProto(m, "")
	if err != nil {
		return Resource{}, fmt.Errorf("resources: resource %q: %w", m.GetName(), err)
	}
	return r, nil
}

// resourceFromProto converts m. A resource in the pre-refinement format
// without a role gets defaultRole, or "*" when defaultRole is "".
func resourceFromProto(m *mesos.Resource, defaultRole string) (Resource, error) {
	if m == nil {
		return Resource{}, fmt.Errorf("%w: nil message", ErrInvalidResource)
	}
	if m.Type == nil {
		return Resource{}, fmt.Errorf("%w: type is not set", ErrInvalidResource)
	}
	r := Resource{Name: m.GetName(), Type: ValueType(m.GetType())}
	if err := valueFromProto(&r, m); err != nil {
		return Resource{}, fmt.Errorf("%w: %s", ErrInvalidResource, err)
	}
	var err error
	if r.Reservations, err = reservationsFromProto(m, defaultRole); err != nil {
		return Resource{}, fmt.Errorf("%w: %s", ErrInvalidResource, err)
	}
	if m.Disk != nil {
		if r.Disk, err = diskFromProto(m.Disk); err != nil {
			return Resource{}, fmt.Errorf("%w: %s", ErrInvalidResource, err)
		}
	}
	r.Revocable = m.Revocable != nil
	r.Shared = m.Shared != nil
	r.AllocationRole = m.GetAllocationInfo().GetRole()
	r.ProviderID = m.GetProviderId().GetValue()
	if err := r.validate(); err != nil {
		return Resource{}, fmt.Errorf("%w: %s", ErrInvalidResource, err)
	}
	return r.normalized(), nil
}

// valueFromProto fills r's value from m, checking that exactly the field of
// r.Type is set.
func valueFromProto(r *Resource, m *mesos.Resource) error {
	switch r.Type {
	case ValueScalar:
		if m.Scalar == nil || m.Ranges != nil || m.Set != nil {
			return errors.New("a SCALAR resource needs scalar and nothing else")
		}
		f := m.Scalar.GetValue()
		sc, err := ScalarFromFloat(f)
		if err != nil {
			return err
		}
		if sc == 0 && f != 0 {
			return fmt.Errorf("scalar %v rounds to 0; scalars keep three decimal places", f)
		}
		r.Scalar = sc
	case ValueRanges:
		if m.Ranges == nil || m.Scalar != nil || m.Set != nil {
			return errors.New("a RANGES resource needs ranges and nothing else")
		}
		rs := make([]Range, len(m.Ranges.Range))
		for i, x := range m.Ranges.Range {
			rs[i] = Range{x.GetBegin(), x.GetEnd()}
		}
		if err := checkRanges(rs); err != nil {
			return err
		}
		r.Ranges = coalesce(rs)
	case ValueSet:
		if m.Set == nil || m.Scalar != nil || m.Ranges != nil {
			return errors.New("a SET resource needs set and nothing else")
		}
		r.Set = slices.Clone(m.Set.Item)
		slices.Sort(r.Set)
		if dup, ok := duplicate(r.Set); ok {
			return fmt.Errorf("duplicate set item %q", dup)
		}
	default:
		return fmt.Errorf("unsupported type %v", m.GetType())
	}
	return nil
}

// reservationsFromProto reads m's reservations in either format and checks
// that the two agree when both are given.
func reservationsFromProto(m *mesos.Resource, defaultRole string) ([]Reservation, error) {
	if len(m.Reservations) == 0 {
		role := m.GetRole()
		if m.Role == nil && defaultRole != "" {
			role = defaultRole
		}
		if err := ValidateRole(role); err != nil {
			return nil, err
		}
		if m.Reservation != nil {
			switch {
			case m.Reservation.Type != nil:
				return nil, errors.New("reservation.type must not be set in the pre-refinement format")
			case m.Reservation.Role != nil:
				return nil, errors.New("reservation.role must not be set in the pre-refinement format")
			case role == UnreservedRole:
				return nil, errors.New("role \"*\" cannot be dynamically reserved")
			}
			return []Reservation{{
				Type:      ReservationDynamic,
				Role:      role,
				Principal: m.Reservation.GetPrincipal(),
				Labels:    labelsFromProto(m.Reservation.GetLabels()),
			}}, nil
		}
		if role == UnreservedRole {
			return nil, nil
		}
		return []Reservation{{Type: ReservationStatic, Role: role}}, nil
	}

	stack := make([]Reservation, len(m.Reservations))
	for i, x := range m.Reservations {
		if x.Type == nil || x.Role == nil {
			return nil, fmt.Errorf("reservations[%d] needs type and role", i)
		}
		stack[i] = Reservation{
			Type:      ReservationType(x.GetType()),
			Role:      x.GetRole(),
			Principal: x.GetPrincipal(),
			Labels:    labelsFromProto(x.GetLabels()),
		}
	}
	if err := validateReservations(stack); err != nil {
		return nil, err
	}
	if len(stack) > 1 {
		if m.Role != nil || m.Reservation != nil {
			return nil, errors.New("role and reservation must not be set with refined reservations")
		}
		return stack, nil
	}
	res := &stack[0]
	if m.Role != nil && m.GetRole() != res.Role {
		return nil, fmt.Errorf("role %q does not match reservations role %q", m.GetRole(), res.Role)
	}
	switch res.Type {
	case ReservationStatic:
		if m.Reservation != nil {
			return nil, errors.New("reservation must not be set for a STATIC reservation")
		}
	case ReservationDynamic:
		if (m.Role != nil) != (m.Reservation != nil) {
			return nil, errors.New("role and reservation must be both set or both unset for a DYNAMIC reservation")
		}
		if m.Reservation != nil {
			if m.Reservation.GetPrincipal() != res.Principal {
				return nil, fmt.Errorf("reservation principal %q does not match %q", m.Reservation.GetPrincipal(), res.Principal)
			}
			if compareLabels(sortLabels(labelsFromProto(m.Reservation.GetLabels())), sortLabels(res.Labels)) != 0 {
				return nil, errors.New("reservation labels do not match the reservations labels")
			}
		}
	}
	return stack, nil
}

func labelsFromProto(m *mesos.Labels) []Label {
	if m == nil || len(m.Labels) == 0 {
		return nil
	}
	ls := make([]Label, len(m.Labels))
	for i, l := range m.Labels {
		ls[i] = Label{Key: l.GetKey(), Value: l.GetValue(), HasValue: l.Value != nil}
	}
	return ls
}

func diskFromProto(m *mesos.Resource_DiskInfo) (*DiskInfo, error) {
	d := &DiskInfo{}
	if p := m.Persistence; p != nil {
		if p.Id == nil {
			return nil, errors.New("disk.persistence.id is not set")
		}
		d.Persistence = &Persistence{ID: p.GetId(), Principal: p.GetPrincipal()}
	}
	if v := m.Volume; v != nil {
		d.Volume = &Volume{ContainerPath: v.GetContainerPath(), HostPath: v.GetHostPath(), Mode: VolumeMode(v.GetMode())}
	}
	if s := m.Source; s != nil {
		if s.Type == nil {
			return nil, errors.New("disk.source.type is not set")
		}
		src := &DiskSource{
			Type:     DiskSourceType(s.GetType()),
			Vendor:   s.GetVendor(),
			ID:       s.GetId(),
			Profile:  s.GetProfile(),
			Metadata: labelsFromProto(s.GetMetadata()),
		}
		switch src.Type {
		case DiskSourcePath:
			src.Root = s.GetPath().GetRoot()
		case DiskSourceMount:
			src.Root = s.GetMount().GetRoot()
		case DiskSourceBlock, DiskSourceRaw:
			if s.Path != nil || s.Mount != nil {
				return nil, fmt.Errorf("a %v disk source must not have path or mount", src.Type)
			}
		}
		d.Source = src
	}
	return d, nil
}

// AttributesToProto converts attributes to protobuf.
func AttributesToProto(attrs []Attribute) []*mesos.Attribute {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]*mesos.Attribute, len(attrs))
	for i := range attrs {
		a := &attrs[i]
		m := &mesos.Attribute{Name: proto.String(a.Name), Type: mesos.Value_Type(a.Type).Enum()}
		switch a.Type {
		case ValueScalar:
			m.Scalar = &mesos.Value_Scalar{Value: proto.Float64(a.Scalar.Float())}
		case ValueRanges:
			m.Ranges = rangesToProto(a.Ranges)
		case ValueSet:
			m.Set = &mesos.Value_Set{Item: slices.Clone(a.Set)}
		case ValueText:
			m.Text = &mesos.Value_Text{Value: proto.String(a.Text)}
		}
		out[i] = m
	}
	return out
}

// AttributesFromProto converts attributes from protobuf, checking that each
// has a name and the value field of its type.
func AttributesFromProto(ms []*mesos.Attribute) ([]Attribute, error) {
	out := make([]Attribute, 0, len(ms))
	for i, m := range ms {
		a, err := attributeFromProto(m)
		if err != nil {
			return nil, fmt.Errorf("resources: attribute %d (%q): %w", i, m.GetName(), err)
		}
		out = append(out, a)
	}
	return out, nil
}

func attributeFromProto(m *mesos.Attribute) (Attribute, error) {
	if m.GetName() == "" {
		return Attribute{}, errors.New("empty name")
	}
	if m.Type == nil {
		return Attribute{}, errors.New("type is not set")
	}
	a := Attribute{Name: m.GetName(), Type: ValueType(m.GetType())}
	switch a.Type {
	case ValueScalar:
		if m.Scalar == nil {
			return Attribute{}, errors.New("a SCALAR attribute needs scalar")
		}
		f := m.Scalar.GetValue()
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > MaxScalar.Float() {
			return Attribute{}, fmt.Errorf("scalar %v is not a finite number of at most %v", f, MaxScalar)
		}
		a.Scalar = Scalar(math.Round(f * 1000)) // attributes may be negative
	case ValueRanges:
		if m.Ranges == nil {
			return Attribute{}, errors.New("a RANGES attribute needs ranges")
		}
		rs := make([]Range, len(m.Ranges.Range))
		for i, x := range m.Ranges.Range {
			rs[i] = Range{x.GetBegin(), x.GetEnd()}
		}
		var err error
		if a.Ranges, err = NewRanges(rs...); err != nil {
			return Attribute{}, err
		}
	case ValueSet:
		if m.Set == nil {
			return Attribute{}, errors.New("a SET attribute needs set")
		}
		a.Set = slices.Clone(m.Set.Item)
	case ValueText:
		if m.Text == nil {
			return Attribute{}, errors.New("a TEXT attribute needs text")
		}
		a.Text = m.Text.GetValue()
	default:
		return Attribute{}, fmt.Errorf("unsupported type %v", m.GetType())
	}
	return a, nil
}

// ParseJSON reads the JSON form of the agent's --resources flag: an array
// of mesos.v1.Resource objects in Mesos' JSON mapping, for example
//
//	[{"name":"cpus","type":"SCALAR","scalar":{"value":4}},
//	 {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]}}]
//
// A resource without role and reservations gets defaultRole (a static
// reservation unless it is "*"). Besides FromProto's checks, the flag
// forbids persistent volumes, revocable resources, dynamic reservations,
// and one name with two types.
func ParseJSON(data []byte, defaultRole string) (Resources, error) {
	list, err := parseJSONList(data, defaultRole)
	if err != nil {
		return Resources{}, err
	}
	return fromList(list), nil
}

func parseJSONList(data []byte, defaultRole string) ([]Resource, error) {
	if err := ValidateRole(defaultRole); err != nil {
		return nil, fmt.Errorf("resources: default role: %w", err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, fmt.Errorf("resources: JSON resources must be an array of objects: %w", err)
	}
	list := make([]Resource, 0, len(raws))
	for i, raw := range raws {
		var m mesos.Resource
		if err := codec.UnmarshalJSON(raw, &m); err != nil {
			return nil, fmt.Errorf("resources: JSON resource %d: %w", i, err)
		}
		r, err := resourceFromProto(&m, defaultRole)
		if err != nil {
			return nil, fmt.Errorf("resources: JSON resource %d (%q): %w", i, m.GetName(), err)
		}
		var reason string
		switch {
		case r.IsPersistentVolume():
			reason = "persistent volumes cannot be given on the command line"
		case r.Revocable:
			reason = "revocable resources cannot be given on the command line"
		case r.IsDynamic():
			reason = "dynamic reservations cannot be given on the command line"
		}
		for j := range list {
			if list[j].Name == r.Name && list[j].Type != r.Type {
				reason = fmt.Sprintf("resource %q was given as %v before, now as %v", r.Name, list[j].Type, r.Type)
			}
		}
		if reason != "" {
			return nil, fmt.Errorf("resources: JSON resource %d (%q): %w: %s", i, r.Name, ErrInvalidResource, reason)
		}
		list = append(list, r)
	}
	return list, nil
}

// ParseFlag reads the value of the agent's --resources flag in any of its
// forms: "file:///path" reads the file and parses its contents; text that
// starts with '[' is JSON (see ParseJSON); anything else is the text form
// (see Parse).
func ParseFlag(value, defaultRole string) (Resources, error) {
	list, err := parseFlagList(value, defaultRole)
	if err != nil {
		return Resources{}, err
	}
	return fromList(list), nil
}

// parseFlagList is ParseFlag before combining: one resource per element,
// empty ones included.
func parseFlagList(value, defaultRole string) ([]Resource, error) {
	if path, ok := strings.CutPrefix(value, "file://"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("resources: read --resources file: %w", err)
		}
		value = string(b)
	}
	if strings.HasPrefix(strings.TrimLeft(value, whitespace), "[") {
		return parseJSONList([]byte(value), defaultRole)
	}
	return parseText(value, defaultRole)
}

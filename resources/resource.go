package resources

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ValueType is the kind of a resource or attribute value. The numbers are
// those of mesos.v1.Value.Type.
type ValueType int32

// The value types.
const (
	ValueScalar ValueType = 0 // a Scalar
	ValueRanges ValueType = 1 // Ranges of unsigned integers
	ValueSet    ValueType = 2 // a set of strings
	ValueText   ValueType = 3 // a string; attributes only
)

// String returns Mesos' name of t: "SCALAR", "RANGES", "SET" or "TEXT".
func (t ValueType) String() string {
	switch t {
	case ValueScalar:
		return "SCALAR"
	case ValueRanges:
		return "RANGES"
	case ValueSet:
		return "SET"
	case ValueText:
		return "TEXT"
	}
	return fmt.Sprintf("ValueType(%d)", int32(t))
}

// ReservationType says how a reservation was made. The numbers are those of
// mesos.v1.Resource.ReservationInfo.Type.
type ReservationType int32

// The reservation types.
const (
	// ReservationStatic is made by the agent's --resources flag and lasts
	// as long as the agent's configuration.
	ReservationStatic ReservationType = 1
	// ReservationDynamic is made by a framework or an operator with a
	// RESERVE operation and undone with UNRESERVE.
	ReservationDynamic ReservationType = 2
)

// String returns "STATIC" or "DYNAMIC".
func (t ReservationType) String() string {
	switch t {
	case ReservationStatic:
		return "STATIC"
	case ReservationDynamic:
		return "DYNAMIC"
	}
	return fmt.Sprintf("ReservationType(%d)", int32(t))
}

// Label is a key with an optional value (mesos.v1.Label). As in Mesos, two
// labels are equal when key and value are; a missing value equals "".
type Label struct {
	Key   string
	Value string
	// HasValue records whether Value was given, so that conversion back to
	// protobuf reproduces an absent value.
	HasValue bool
}

// Reservation is one level of a resource's reservation stack
// (mesos.v1.Resource.ReservationInfo).
type Reservation struct {
	Type ReservationType
	// Role is the role the resources are reserved for; never "*".
	Role string
	// Principal is who made a dynamic reservation; "" when not given.
	Principal string
	// Labels are free-form metadata of a dynamic reservation. Their order
	// does not matter; Resources keeps them sorted.
	Labels []Label
}

// DiskSourceType is the kind of storage behind a disk resource. The
// numbers are those of mesos.v1.Resource.DiskInfo.Source.Type.
type DiskSourceType int32

// The disk source types.
const (
	// DiskSourcePath is a directory on a shared filesystem; divisible.
	DiskSourcePath DiskSourceType = 1
	// DiskSourceMount is a whole mounted filesystem; used only as a whole.
	DiskSourceMount DiskSourceType = 2
	// DiskSourceBlock is a raw block device; used only as a whole.
	DiskSourceBlock DiskSourceType = 3
	// DiskSourceRaw is unformatted storage of a resource provider;
	// indivisible once it has an ID.
	DiskSourceRaw DiskSourceType = 4
)

// String returns Mesos' name of t: "PATH", "MOUNT", "BLOCK" or "RAW".
func (t DiskSourceType) String() string {
	switch t {
	case DiskSourcePath:
		return "PATH"
	case DiskSourceMount:
		return "MOUNT"
	case DiskSourceBlock:
		return "BLOCK"
	case DiskSourceRaw:
		return "RAW"
	}
	return fmt.Sprintf("DiskSourceType(%d)", int32(t))
}

// DiskSource describes where a disk resource lives
// (mesos.v1.Resource.DiskInfo.Source).
type DiskSource struct {
	Type DiskSourceType
	// Root is the directory of a PATH disk or the mount point of a MOUNT
	// disk; "" when not given and always "" for BLOCK and RAW.
	Root string
	// Vendor, ID, Profile and Metadata identify a disk of a CSI resource
	// provider; "" / empty when not given.
	Vendor, ID, Profile string
	Metadata            []Label
}

// Persistence marks a disk resource as a persistent volume.
type Persistence struct {
	// ID names the volume; unique per agent and role.
	ID string
	// Principal is who created the volume; "" when not given.
	Principal string
}

// VolumeMode is a volume's access mode; the numbers are those of
// mesos.v1.Volume.Mode.
type VolumeMode int32

// The volume modes.
const (
	VolumeRW VolumeMode = 1 // read-write
	VolumeRO VolumeMode = 2 // read-only
)

// Volume says where a persistent volume appears in a container
// (the parts of mesos.v1.Volume a disk resource uses).
type Volume struct {
	ContainerPath string
	HostPath      string // "" when not given
	Mode          VolumeMode
}

// DiskInfo is the disk-specific part of a "disk" resource
// (mesos.v1.Resource.DiskInfo); each part is nil when absent.
type DiskInfo struct {
	Persistence *Persistence
	Volume      *Volume
	Source      *DiskSource
}

// Equal reports whether d and o are identical in every field, Volume and
// Persistence.Principal included. Note that Resources identifies disks by
// Source and Persistence.ID only, as Mesos does (see the package doc).
func (d *DiskInfo) Equal(o *DiskInfo) bool {
	if d == nil || o == nil {
		return d == o
	}
	return d.compareIdentity(o) == 0 &&
		ptrEqual(d.Persistence, o.Persistence) &&
		ptrEqual(d.Volume, o.Volume)
}

func ptrEqual[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// compareIdentity orders disks by what makes two disks the same disk in
// Mesos: the source and the persistence ID. The volume (how a task mounts
// it) and the persistence principal are not part of it.
func (d *DiskInfo) compareIdentity(o *DiskInfo) int {
	if c := cmpPresence(d, o); c != 0 || d == nil {
		return c
	}
	if c := cmpPresence(d.Source, o.Source); c != 0 {
		return c
	}
	if d.Source != nil {
		s, t := d.Source, o.Source
		if c := cmp.Or(
			cmp.Compare(s.Type, t.Type),
			strings.Compare(s.Root, t.Root),
			strings.Compare(s.Vendor, t.Vendor),
			strings.Compare(s.ID, t.ID),
			strings.Compare(s.Profile, t.Profile),
		); c != 0 {
			return c
		}
		if c := compareLabels(s.Metadata, t.Metadata); c != 0 {
			return c
		}
	}
	if c := cmpPresence(d.Persistence, o.Persistence); c != 0 || d.Persistence == nil {
		return c
	}
	return strings.Compare(d.Persistence.ID, o.Persistence.ID)
}

// cmpPresence orders nil before non-nil; it returns 0 when both or neither
// are nil.
func cmpPresence[T any](a, b *T) int {
	switch {
	case a == nil && b != nil:
		return -1
	case a != nil && b == nil:
		return 1
	}
	return 0
}

// Resource is one resource of an agent: a named value of one type, with the
// metadata that decides which resources are interchangeable. It mirrors
// mesos.v1.Resource in the "post-refinement" format.
//
// Of the three value fields only the one matching Type is used; the others
// are empty. The Ranges, Set, Reservations and Disk of a Resource held by
// Resources are shared, read-only memory: build new slices instead of
// modifying them.
type Resource struct {
	// Name is "cpus", "mem" (MB), "disk" (MB), "ports", "gpus" or any
	// custom name; never empty.
	Name string
	// Type is ValueScalar, ValueRanges or ValueSet; resources are never
	// ValueText.
	Type   ValueType
	Scalar Scalar
	Ranges Ranges
	// Set holds the items of a ValueSet resource, sorted and unique.
	Set []string
	// Reservations is the reservation stack, least refined first; the last
	// entry says whom the resource is reserved for. Empty means unreserved
	// (role "*"). Only the first entry may be static; each later one is
	// dynamic and reserves for a strict subrole of the one before.
	Reservations []Reservation
	// Disk is set only on "disk" resources that are more than plain space
	// of the agent's work directory.
	Disk *DiskInfo
	// Revocable marks resources that may be taken back at any time
	// (oversubscription).
	Revocable bool
	// Shared marks a persistent volume that several tasks may use at once.
	Shared bool
	// AllocationRole is the role the resource is offered or allocated to;
	// "" when not allocated.
	AllocationRole string
	// ProviderID is the resource provider the resource comes from; "" for
	// the agent's own resources.
	ProviderID string
}

// Role returns the role the resource is reserved for: the role of the most
// refined reservation, or "*" if it is unreserved.
func (r *Resource) Role() string {
	if n := len(r.Reservations); n > 0 {
		return r.Reservations[n-1].Role
	}
	return UnreservedRole
}

// IsReserved reports whether r is reserved for some role.
func (r *Resource) IsReserved() bool { return len(r.Reservations) > 0 }

// IsUnreserved reports whether r is unreserved (role "*").
func (r *Resource) IsUnreserved() bool { return len(r.Reservations) == 0 }

// IsDynamic reports whether r's most refined reservation is dynamic.
func (r *Resource) IsDynamic() bool {
	n := len(r.Reservations)
	return n > 0 && r.Reservations[n-1].Type == ReservationDynamic
}

// IsStatic reports whether r's most refined reservation is static.
func (r *Resource) IsStatic() bool {
	n := len(r.Reservations)
	return n > 0 && r.Reservations[n-1].Type == ReservationStatic
}

// HasRefinedReservations reports whether r's reservation stack has more
// than one level.
func (r *Resource) HasRefinedReservations() bool { return len(r.Reservations) > 1 }

// IsPersistentVolume reports whether r is a persistent volume.
func (r *Resource) IsPersistentVolume() bool {
	return r.Disk != nil && r.Disk.Persistence != nil
}

// IsDisk reports whether r is a disk with a source of type t.
func (r *Resource) IsDisk(t DiskSourceType) bool {
	return r.Disk != nil && r.Disk.Source != nil && r.Disk.Source.Type == t
}

// IsAllocatableTo reports whether r may be allocated to role: it is
// unreserved, or reserved for role or for an ancestor of role.
func (r *Resource) IsAllocatableTo(role string) bool {
	return r.IsUnreserved() || inRoleSubtree(role, r.Role())
}

// IsEmpty reports whether r holds nothing: a zero scalar, no ranges, or no
// set items.
func (r *Resource) IsEmpty() bool {
	switch r.Type {
	case ValueScalar:
		return r.Scalar == 0
	case ValueRanges:
		return len(r.Ranges) == 0
	case ValueSet:
		return len(r.Set) == 0
	}
	return true
}

// Equal reports whether r and o are the same resource with the same value,
// by the identity rules described in the package doc (a disk's volume and
// persistence principal are not compared).
func (r *Resource) Equal(o *Resource) bool {
	return r.compareIdentity(o) == 0 && r.compareValue(o) == 0
}

// indivisible reports whether r can only be used as a whole, so that two
// such resources never merge and one is subtracted from another only when
// they are equal: persistent volumes, MOUNT and BLOCK disks, and RAW disks
// with an ID.
func (r *Resource) indivisible() bool {
	d := r.Disk
	if d == nil {
		return false
	}
	if d.Persistence != nil {
		return true
	}
	if s := d.Source; s != nil {
		switch s.Type {
		case DiskSourceMount, DiskSourceBlock:
			return true
		case DiskSourceRaw:
			return s.ID != ""
		}
	}
	return false
}

// compareIdentity orders resources by everything but their value. Resources
// that compare equal are interchangeable: their values may be added
// together (unless indivisible) and one may be subtracted from the other.
func (r *Resource) compareIdentity(o *Resource) int {
	if c := strings.Compare(r.Name, o.Name); c != 0 {
		return c
	}
	if c := cmp.Compare(r.Type, o.Type); c != 0 {
		return c
	}
	if c := compareReservations(r.Reservations, o.Reservations); c != 0 {
		return c
	}
	if r.Disk != nil || o.Disk != nil {
		if c := r.Disk.compareIdentity(o.Disk); c != 0 {
			return c
		}
	}
	return cmp.Or(
		cmpBool(r.Revocable, o.Revocable),
		cmpBool(r.Shared, o.Shared),
		strings.Compare(r.AllocationRole, o.AllocationRole),
		strings.Compare(r.ProviderID, o.ProviderID),
	)
}

// compareValue orders resources of the same type by value.
func (r *Resource) compareValue(o *Resource) int {
	switch r.Type {
	case ValueScalar:
		return cmp.Compare(r.Scalar, o.Scalar)
	case ValueRanges:
		return r.Ranges.compare(o.Ranges)
	case ValueSet:
		return slices.Compare(r.Set, o.Set)
	}
	return 0
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

func compareReservations(a, b []Reservation) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if c := cmp.Or(
			strings.Compare(x.Role, y.Role),
			cmp.Compare(x.Type, y.Type),
			strings.Compare(x.Principal, y.Principal),
			compareLabels(x.Labels, y.Labels),
		); c != 0 {
			return c
		}
	}
	return 0
}

// compareLabels compares label lists, which must be sorted (see
// sortLabels); HasValue is ignored as in Mesos.
func compareLabels(a, b []Label) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	for i := range a {
		if c := compareLabel(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

func compareLabel(a, b Label) int {
	return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.Value, b.Value))
}

// sortLabels returns ls sorted, copying it only if it is not sorted yet.
func sortLabels(ls []Label) []Label {
	if slices.IsSortedFunc(ls, compareLabel) {
		return ls
	}
	ls = slices.Clone(ls)
	slices.SortFunc(ls, compareLabel)
	return ls
}

// ErrInvalidResource is wrapped by the errors Validate, New, FromProto and
// the parsers return for a resource that breaks Mesos' rules.
var ErrInvalidResource = errors.New("invalid resource")

// Validate checks r by Mesos' rules for a resource in the post-refinement
// format: a name; a scalar, ranges or set value matching Type (scalars not
// negative, ranges with Begin ≤ End and not overlapping, set items unique);
// a valid reservation stack (valid roles other than "*", static only at the
// bottom, each refinement a dynamic reservation for a strict subrole of the
// level below); DiskInfo only on "disk", with a known source type, no root
// on BLOCK or RAW sources, and a persistence ID on persistent volumes; and
// Shared only on persistent volumes.
func (r *Resource) Validate() error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("%w %q: %s", ErrInvalidResource, r.Name, err)
	}
	return nil
}

func (r *Resource) validate() error {
	if r.Name == "" {
		return errors.New("empty name")
	}
	switch r.Type {
	case ValueScalar:
		if len(r.Ranges) > 0 || len(r.Set) > 0 {
			return errors.New("a SCALAR resource has ranges or set items")
		}
		if r.Scalar < 0 {
			return fmt.Errorf("negative value %v", r.Scalar)
		}
	case ValueRanges:
		if r.Scalar != 0 || len(r.Set) > 0 {
			return errors.New("a RANGES resource has a scalar or set items")
		}
		if err := checkRanges(r.Ranges); err != nil {
			return err
		}
	case ValueSet:
		if r.Scalar != 0 || len(r.Ranges) > 0 {
			return errors.New("a SET resource has a scalar or ranges")
		}
		if dup, ok := duplicate(r.Set); ok {
			return fmt.Errorf("duplicate set item %q", dup)
		}
	default:
		return fmt.Errorf("unsupported type %v", r.Type)
	}
	if err := validateReservations(r.Reservations); err != nil {
		return err
	}
	if d := r.Disk; d != nil {
		if r.Name != "disk" {
			return errors.New("DiskInfo on a resource that is not \"disk\"")
		}
		if s := d.Source; s != nil {
			switch s.Type {
			case DiskSourcePath, DiskSourceMount:
			case DiskSourceBlock, DiskSourceRaw:
				if s.Root != "" {
					return fmt.Errorf("a %v disk source has a root", s.Type)
				}
			default:
				return fmt.Errorf("unsupported disk source type %v", s.Type)
			}
		}
		if d.Persistence != nil && d.Persistence.ID == "" {
			return errors.New("persistent volume without an ID")
		}
		if v := d.Volume; v != nil && v.Mode != VolumeRW && v.Mode != VolumeRO {
			return fmt.Errorf("unsupported volume mode %d", v.Mode)
		}
	}
	if r.Shared && !r.IsPersistentVolume() {
		return errors.New("only persistent volumes can be shared")
	}
	return nil
}

// checkRanges reports a Range with Begin > End or two overlapping Ranges,
// in any order (adjacent Ranges are fine).
func checkRanges(rs Ranges) error {
	sorted := true
	for i, r := range rs {
		if r.Begin > r.End {
			return fmt.Errorf("range %d-%d has begin > end", r.Begin, r.End)
		}
		if i > 0 && rs[i-1].Begin > r.Begin {
			sorted = false
		}
	}
	if !sorted {
		rs = slices.Clone(rs)
		slices.SortFunc(rs, func(a, b Range) int { return cmpUint(a.Begin, b.Begin) })
	}
	for i := 1; i < len(rs); i++ {
		if rs[i].Begin <= rs[i-1].End {
			return fmt.Errorf("ranges %d-%d and %d-%d overlap", rs[i-1].Begin, rs[i-1].End, rs[i].Begin, rs[i].End)
		}
	}
	return nil
}

// duplicate returns an item that occurs twice in items.
func duplicate(items []string) (string, bool) {
	if slices.IsSorted(items) {
		for i := 1; i < len(items); i++ {
			if items[i] == items[i-1] {
				return items[i], true
			}
		}
		return "", false
	}
	seen := make(map[string]struct{}, len(items))
	for _, it := range items {
		if _, ok := seen[it]; ok {
			return it, true
		}
		seen[it] = struct{}{}
	}
	return "", false
}

func validateReservations(rs []Reservation) error {
	for i := range rs {
		res := &rs[i]
		switch res.Type {
		case ReservationStatic, ReservationDynamic:
		default:
			return fmt.Errorf("reservation %d has unsupported type %v", i, res.Type)
		}
		if res.Role == UnreservedRole {
			return fmt.Errorf("reservation %d is for role \"*\"", i)
		}
		if err := ValidateRole(res.Role); err != nil {
			return fmt.Errorf("reservation %d: %w", i, err)
		}
		if i == 0 {
			continue
		}
		if res.Type != ReservationDynamic {
			return fmt.Errorf("refined reservation %d is not DYNAMIC", i)
		}
		if !IsStrictSubrole(res.Role, rs[i-1].Role) {
			return fmt.Errorf("reservation %d for %q does not refine %q", i, res.Role, rs[i-1].Role)
		}
	}
	return nil
}

// normalized returns r in the form Resources holds: ranges coalesced, set
// items sorted, labels sorted. It copies only what needs changing, and
// assumes r is valid.
func (r Resource) normalized() Resource {
	if r.Type == ValueRanges && !r.Ranges.IsNormal() {
		r.Ranges = coalesce(slices.Clone(r.Ranges))
	}
	if r.Type == ValueSet && !slices.IsSorted(r.Set) {
		r.Set = slices.Clone(r.Set)
		slices.Sort(r.Set)
	}
	for i := range r.Reservations {
		if ls := r.Reservations[i].Labels; !slices.IsSortedFunc(ls, compareLabel) {
			r.Reservations = slices.Clone(r.Reservations)
			for j := i; j < len(r.Reservations); j++ {
				r.Reservations[j].Labels = sortLabels(r.Reservations[j].Labels)
			}
			break
		}
	}
	if r.Disk != nil && r.Disk.Source != nil && !slices.IsSortedFunc(r.Disk.Source.Metadata, compareLabel) {
		disk, source := *r.Disk, *r.Disk.Source
		source.Metadata = sortLabels(source.Metadata)
		disk.Source = &source
		r.Disk = &disk
	}
	return r
}

// String formats r as Mesos does, for logs:
// "cpus(allocated: web)(reservations: [(STATIC,web)]):2".
func (r Resource) String() string {
	return string(r.appendString(nil))
}

func (r *Resource) appendString(b []byte) []byte {
	b = append(b, r.Name...)
	if r.AllocationRole != "" {
		b = append(b, "(allocated: "...)
		b = append(b, r.AllocationRole...)
		b = append(b, ')')
	}
	if len(r.Reservations) > 0 {
		b = append(b, "(reservations: ["...)
		for i, res := range r.Reservations {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '(')
			b = append(b, res.Type.String()...)
			b = append(b, ',')
			b = append(b, res.Role...)
			if res.Principal != "" {
				b = append(b, ',')
				b = append(b, res.Principal...)
			}
			if len(res.Labels) > 0 {
				b = append(b, ',')
				b = appendLabels(b, res.Labels)
			}
			b = append(b, ')')
		}
		b = append(b, "])"...)
	}
	if r.Disk != nil {
		b = append(b, '[')
		b = r.Disk.appendString(b)
		b = append(b, ']')
	}
	if r.Revocable {
		b = append(b, "{REV}"...)
	}
	if r.Shared {
		b = append(b, "<SHARED>"...)
	}
	b = append(b, ':')
	return r.appendValue(b, ", ")
}

// appendValue appends r's value; sep goes between ranges and set items.
func (r *Resource) appendValue(b []byte, sep string) []byte {
	switch r.Type {
	case ValueScalar:
		return r.Scalar.appendText(b)
	case ValueRanges:
		return r.Ranges.appendText(b, sep)
	case ValueSet:
		return appendSet(b, r.Set, sep)
	}
	return b
}

func appendSet(b []byte, items []string, sep string) []byte {
	b = append(b, '{')
	for i, it := range items {
		if i > 0 {
			b = append(b, sep...)
		}
		b = append(b, it...)
	}
	return append(b, '}')
}

func appendLabels(b []byte, ls []Label) []byte {
	b = append(b, '{')
	for i, l := range ls {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, l.Key...)
		if l.HasValue {
			b = append(b, ": "...)
			b = append(b, l.Value...)
		}
	}
	return append(b, '}')
}

// appendString formats d as Mesos does: source, persistence ID and volume,
// as in "MOUNT:/mnt/a,vol1:/data".
func (d *DiskInfo) appendString(b []byte) []byte {
	if s := d.Source; s != nil {
		b = append(b, s.Type.String()...)
		switch {
		case s.ID != "" || s.Profile != "":
			b = append(b, '(')
			b = append(b, s.Vendor...)
			b = append(b, ',')
			b = append(b, s.ID...)
			b = append(b, ',')
			b = append(b, s.Profile...)
			b = append(b, ')')
		case s.Root != "":
			b = append(b, ':')
			b = append(b, s.Root...)
		}
	}
	if p := d.Persistence; p != nil {
		if d.Source != nil {
			b = append(b, ',')
		}
		b = append(b, p.ID...)
	}
	if v := d.Volume; v != nil {
		b = append(b, ':')
		if v.HostPath != "" {
			b = append(b, v.HostPath...)
			b = append(b, ':')
		}
		b = append(b, v.ContainerPath...)
		if v.HostPath != "" {
			switch v.Mode {
			case VolumeRW:
				b = append(b, ":rw"...)
			case VolumeRO:
				b = append(b, ":ro"...)
			}
		}
	}
	return b
}

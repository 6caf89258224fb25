// Package resources is Mezzo's resource model: what an agent has, what the
// allocator offers, what a task uses. It follows Mesos' semantics
// (src/common/resources.cpp, values.cpp, attributes.cpp) and is pure: no
// I/O except DetectHost and ParseFlag's file read, no goroutines, no
// reflection. Values are immutable, so the master and the allocator can
// share them freely, and any number of goroutines may read them at once.
//
// # Values
//
// A resource has a name and a value of one of three types:
//
//   - Scalar (cpus, mem and disk in MB, gpus): a fixed-point number with
//     three decimal places, stored as an int64 count of thousandths.
//     Mesos rounds every scalar to three decimals and compares in fixed
//     point; storing the fixed point value makes arithmetic exact:
//     0.1 + 0.2 == 0.3, and 0.0001 is 0.
//   - Ranges (ports): sets of unsigned integers as sorted, coalesced
//     intervals, [31000-32000,40000-40010].
//   - Set: sets of strings, {a,b,c}.
//
// Text values exist only for attributes.
//
// # Identity: which resources combine
//
// Two resources are interchangeable when they have the same identity:
// name, type, reservation stack, disk identity (source and persistence ID),
// revocable and shared flags, allocation role and provider ID. Resources
// keeps one entry per identity and combines values under it: "cpus:1" plus
// "cpus:2" is "cpus:3", but "cpus:1" and "cpus(web):2" stay apart because
// their reservations differ.
//
// As in Mesos, a disk's identity leaves out its Volume (where a task mounts
// it; a framework may choose a different path each time) and the
// persistence principal. DiskInfo.Equal, in contrast, compares everything.
//
// Some disks are indivisible and never combine, each staying its own entry
// even beside an identical one: persistent volumes, MOUNT and BLOCK disks,
// and RAW disks with an ID. One is subtracted or contained only by an equal
// resource, value included.
//
// # Shared resources
//
// A shared resource (only persistent volumes may be shared) can be used by
// several tasks at once. As in Mesos, Resources counts copies of it: adding
// a shared volume twice gives one entry with count 2 (see Count), and
// subtracting one copy leaves count 1. Iteration, String and ToProto show
// each shared resource once; quantities count its size once. Contains
// compares counts.
//
// # Arithmetic
//
// Add combines; Subtract takes each resource of the right side from the
// entry of the same identity, removing scalars that would go negative and
// ranges or sets that become empty, so results are never negative.
// Contains(o) reports whether Subtract(o) takes all of o. All three are one
// merge pass over the canonical order, without maps; Add and Subtract
// allocate the result, and new ranges or sets where those change.
//
// # Roles and reservations
//
// Reservations is a stack. Its first level may be static (from the agent's
// --resources flag, "cpus(web):2") or dynamic (a RESERVE operation); each
// further level refines the one below: it is dynamic and reserves for a
// strict subrole ("web/batch" under "web"). The last level decides the
// resource's Role; an empty stack is the unreserved role "*". Filters
// follow Mesos' hierarchy rules: Reserved(role) matches the role exactly,
// ReservedToSubtree(role) also its subroles, AllocatableTo(role) picks
// what role may use (unreserved, or reserved for role or an ancestor).
// PushReservation and PopReservation refine and unrefine; ToUnreserved
// drops all levels.
//
// Allocate(role) and Unallocate set and clear the allocation role that
// offered and used resources carry.
//
// # Text, JSON and protobuf
//
// Parse reads the agent's --resources text form,
// "cpus:4;mem:1024;ports:[31000-32000];cpus(web):2"; Format writes it back.
// ParseJSON reads the JSON form and ParseFlag picks the form of a flag
// value (including "file://"). ParseAttributes and FormatAttributes do the
// same for --attributes. Parse errors are *ParseError, naming the token and
// its byte offset.
//
// FromProto and ToProto convert to and from mesos.v1.Resource. ToProto
// writes Mesos' post-refinement format (reservations), its pre-refinement
// format (role and reservation) for frameworks without the
// RESERVATION_REFINEMENT capability, or the endpoint format with both.
// FromProto accepts all three and rejects inconsistent mixes.
//
// # Agent defaults
//
// AgentResources computes an agent's total as Mesos does: resources named
// in --resources (even "cpus:0") are used as given; missing cpus, mem, disk
// and ports are detected (DetectHost) or defaulted (DefaultAgentResources).
//
// # Quantities
//
// Quantities maps names to amounts without metadata, for DRF shares and
// quota: Resources.ScalarQuantities sums the scalars of each name.
//
// # Where Mezzo differs from Mesos
//
// The parsers are stricter where Mesos silently accepts nonsense: a token
// needs exactly one ':' ("cpus::4" is an error), text after a role's ')'
// is an error instead of being ignored, ranges must be "[b-e,...]" (Mesos
// pairs up any numbers it finds, so "[1-2-3-4]" or "[1,2]" pass), set
// items may not contain brackets or parentheses, and scalars above 10^12
// are rejected. They are more lenient about layout: blank tokens are
// skipped, all whitespace (not only spaces) is removed from values, and
// attribute names are trimmed.
//
// Contains lets each indivisible resource of the right side use up one
// equal resource of the left (Mesos does this for persistent volumes only,
// so it finds two identical MOUNT disks contained in one). Equal compares
// canonical forms exactly. Scalar.String stays exact above 10^12, where
// Mesos rounds to 15 significant digits.
package resources

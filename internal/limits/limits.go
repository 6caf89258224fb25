// Package limits bounds what a client can make Mesos' processes keep:
// the length of every string and list in a call, checked before the
// call is looked at (Check). Mesos bounds ids (255 bytes) and nothing
// else; a framework name of 4 MiB then lands in every metric key and
// state document that names the framework. The bounds are listed in
// docs/compatibility.md.
package limits

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The bounds.
const (
	// MaxNameBytes bounds names, principals, roles, hostnames and label
	// keys: what becomes part of metric keys, paths and state documents.
	MaxNameBytes = 1024
	// MaxLabelValueBytes bounds a label's value and other short free text
	// (messages, URLs).
	MaxLabelValueBytes = 16 << 10
	// MaxStringBytes bounds every other string or bytes field (a
	// command's shell script, an environment value, a data blob): what the
	// request body limit (httpapi.DefaultMaxBodySize) leaves at most.
	MaxStringBytes = 4 << 20
	// MaxListEntries bounds every repeated field (tasks of a launch,
	// labels, resources, environment variables, reconciled tasks).
	MaxListEntries = 100_000
	// MaxLaunchTasks bounds the tasks one LAUNCH or LAUNCH_GROUP
	// operation carries.
	MaxLaunchTasks = 10_000
)

// FieldBounds are the fields with a bound tighter than MaxStringBytes, by
// their full protobuf names.
var FieldBounds = map[protoreflect.FullName]int{
	"mesos.v1.FrameworkInfo.name":                 MaxNameBytes,
	"mesos.v1.FrameworkInfo.user":                 MaxNameBytes,
	"mesos.v1.FrameworkInfo.principal":            MaxNameBytes,
	"mesos.v1.FrameworkInfo.role":                 MaxNameBytes,
	"mesos.v1.FrameworkInfo.roles":                MaxNameBytes,
	"mesos.v1.FrameworkInfo.hostname":             MaxNameBytes,
	"mesos.v1.FrameworkInfo.webui_url":            MaxLabelValueBytes,
	"mesos.v1.TaskInfo.name":                      MaxNameBytes,
	"mesos.v1.ExecutorInfo.name":                  MaxNameBytes,
	"mesos.v1.ExecutorInfo.source":                MaxNameBytes,
	"mesos.v1.Label.key":                          MaxNameBytes,
	"mesos.v1.Label.value":                        MaxLabelValueBytes,
	"mesos.v1.Resource.name":                      MaxNameBytes,
	"mesos.v1.Resource.role":                      MaxNameBytes,
	"mesos.v1.Resource.ReservationInfo.role":      MaxNameBytes,
	"mesos.v1.Resource.ReservationInfo.principal": MaxNameBytes,
	"mesos.v1.Attribute.name":                     MaxNameBytes,
	"mesos.v1.AgentInfo.hostname":                 MaxNameBytes,
	"mesos.v1.DiscoveryInfo.name":                 MaxNameBytes,
	"mesos.v1.scheduler.Call.Message.data":        MaxLabelValueBytes * 64,
}

// Check walks m and returns an error naming the first string,
// bytes or repeated field past its bound, by its path in m ("subscribe.
// framework_info.name"). what names m in the error. Calls are checked on
// every request, so the walk allocates nothing: the path is put together
// only for an error, as it returns through the fields it names.
func Check(what string, m proto.Message) error {
	if m == nil {
		return nil
	}
	if e := boundsOf(m.ProtoReflect()); e != nil {
		e.segs = append(e.segs, what)
		return e
	}
	return nil
}

// boundError is a bound exceeded at a path, kept innermost segment first
// (".name", "[3]") while the walk returns.
type boundError struct {
	segs   []string
	format string // with %s for the path
	args   []any
}

func (e *boundError) Error() string {
	var b strings.Builder
	for i := len(e.segs) - 1; i >= 0; i-- {
		b.WriteString(e.segs[i])
	}
	return fmt.Sprintf(e.format, append([]any{b.String()}, e.args...)...)
}

func (e *boundError) in(seg string) *boundError {
	e.segs = append(e.segs, seg)
	return e
}

func exceeded(format string, args ...any) *boundError {
	return &boundError{format: format, args: args}
}

func boundsOf(m protoreflect.Message) *boundError {
	var err *boundError
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			l := v.List()
			limit := MaxListEntries
			if fd.FullName() == "mesos.v1.Offer.Operation.Launch.task_infos" || fd.FullName() == "mesos.v1.TaskGroupInfo.tasks" {
				limit = MaxLaunchTasks
			}
			if l.Len() > limit {
				err = exceeded("'%s' has %d entries; at most %d are accepted", l.Len(), limit)
				break
			}
			for i := 0; i < l.Len() && err == nil; i++ {
				if err = boundsOfValue(fd, l.Get(i)); err != nil {
					err.in("[" + strconv.Itoa(i) + "]")
				}
			}
		case fd.IsMap():
			mp := v.Map()
			if mp.Len() > MaxListEntries {
				err = exceeded("'%s' has %d entries; at most %d are accepted", mp.Len(), MaxListEntries)
				break
			}
			mp.Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if s, ok := k.Interface().(string); ok && len(s) > MaxNameBytes {
					err = exceeded("a key of '%s' is %d bytes; at most %d are accepted", len(s), MaxNameBytes)
					return false
				}
				if err = boundsOfValue(fd.MapValue(), mv); err != nil {
					err.in("[" + k.String() + "]")
				}
				return err == nil
			})
		default:
			err = boundsOfValue(fd, v)
		}
		if err != nil {
			err.in("." + string(fd.Name()))
		}
		return err == nil
	})
	return err
}

func boundsOfValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) *boundError {
	limit, ok := FieldBounds[fd.FullName()]
	if !ok {
		limit = MaxStringBytes
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		if n := len(v.String()); n > limit {
			return exceeded("'%s' is %d bytes; at most %d are accepted", n, limit)
		}
	case protoreflect.BytesKind:
		if n := len(v.Bytes()); n > limit {
			return exceeded("'%s' is %d bytes; at most %d are accepted", n, limit)
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return boundsOf(v.Message())
	}
	return nil
}

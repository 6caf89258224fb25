package master

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Bounds on what a client can make the master keep. Mesos bounds ids
// (255 bytes, validateID) and nothing else; a framework name of 4 MiB
// then lands in every metric key and state document that names the
// framework. Mezzo refuses, before looking at any state, a call with a
// string or a list past these bounds (docs/compatibility.md lists them).
const (
	// maxNameBytes bounds names, principals, roles, hostnames and label
	// keys: what becomes part of metric keys, paths and state documents.
	maxNameBytes = 1024
	// maxLabelValueBytes bounds a label's value and other short free text
	// (messages, URLs).
	maxLabelValueBytes = 16 << 10
	// maxStringBytes bounds every other string or bytes field (a
	// command's shell script, an environment value, a data blob): what the
	// request body limit (httpapi.DefaultMaxBodySize) leaves at most.
	maxStringBytes = 4 << 20
	// maxListEntries bounds every repeated field (tasks of a launch,
	// labels, resources, environment variables, reconciled tasks).
	maxListEntries = 100_000
	// maxLaunchTasks bounds the tasks one LAUNCH or LAUNCH_GROUP
	// operation carries.
	maxLaunchTasks = 10_000
)

// fieldBounds are the fields with a bound tighter than maxStringBytes.
var fieldBounds = map[protoreflect.FullName]int{
	"mesos.v1.FrameworkInfo.name":                 maxNameBytes,
	"mesos.v1.FrameworkInfo.user":                 maxNameBytes,
	"mesos.v1.FrameworkInfo.principal":            maxNameBytes,
	"mesos.v1.FrameworkInfo.role":                 maxNameBytes,
	"mesos.v1.FrameworkInfo.roles":                maxNameBytes,
	"mesos.v1.FrameworkInfo.hostname":             maxNameBytes,
	"mesos.v1.FrameworkInfo.webui_url":            maxLabelValueBytes,
	"mesos.v1.TaskInfo.name":                      maxNameBytes,
	"mesos.v1.ExecutorInfo.name":                  maxNameBytes,
	"mesos.v1.ExecutorInfo.source":                maxNameBytes,
	"mesos.v1.Label.key":                          maxNameBytes,
	"mesos.v1.Label.value":                        maxLabelValueBytes,
	"mesos.v1.Resource.name":                      maxNameBytes,
	"mesos.v1.Resource.role":                      maxNameBytes,
	"mesos.v1.Resource.ReservationInfo.role":      maxNameBytes,
	"mesos.v1.Resource.ReservationInfo.principal": maxNameBytes,
	"mesos.v1.Attribute.name":                     maxNameBytes,
	"mesos.v1.AgentInfo.hostname":                 maxNameBytes,
	"mesos.v1.DiscoveryInfo.name":                 maxNameBytes,
	"mesos.v1.scheduler.Call.Message.data":        maxLabelValueBytes * 64,
}

// checkBounds walks m and returns an error naming the first string,
// bytes or repeated field past its bound, by its path in m ("subscribe.
// framework_info.name"). what names m in the error.
func checkBounds(what string, m proto.Message) error {
	if m == nil {
		return nil
	}
	return boundsOf(what, m.ProtoReflect())
}

func boundsOf(path string, m protoreflect.Message) error {
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsList():
			l := v.List()
			limit := maxListEntries
			if fd.FullName() == "mesos.v1.Offer.Operation.Launch.task_infos" || fd.FullName() == "mesos.v1.TaskGroupInfo.tasks" {
				limit = maxLaunchTasks
			}
			if l.Len() > limit {
				err = fmt.Errorf("'%s' has %d entries; at most %d are accepted", p, l.Len(), limit)
				return false
			}
			for i := 0; i < l.Len() && err == nil; i++ {
				err = boundsOfValue(p+"["+strconv.Itoa(i)+"]", fd, l.Get(i))
			}
		case fd.IsMap():
			mp := v.Map()
			if mp.Len() > maxListEntries {
				err = fmt.Errorf("'%s' has %d entries; at most %d are accepted", p, mp.Len(), maxListEntries)
				return false
			}
			mp.Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if s, ok := k.Interface().(string); ok && len(s) > maxNameBytes {
					err = fmt.Errorf("a key of '%s' is %d bytes; at most %d are accepted", p, len(s), maxNameBytes)
					return false
				}
				err = boundsOfValue(p+"["+k.String()+"]", fd.MapValue(), mv)
				return err == nil
			})
		default:
			err = boundsOfValue(p, fd, v)
		}
		return err == nil
	})
	return err
}

func boundsOfValue(path string, fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	limit, ok := fieldBounds[fd.FullName()]
	if !ok {
		limit = maxStringBytes
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		if n := len(v.String()); n > limit {
			return fmt.Errorf("'%s' is %d bytes; at most %d are accepted", path, n, limit)
		}
	case protoreflect.BytesKind:
		if n := len(v.Bytes()); n > limit {
			return fmt.Errorf("'%s' is %d bytes; at most %d are accepted", path, n, limit)
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return boundsOf(path, v.Message())
	}
	return nil
}

package v0test

import (
	"google.golang.org/protobuf/reflect/protoreflect"
)

// unknownFields names the first message inside m that holds fields its
// type does not declare, or "".
func unknownFields(m protoreflect.Message) string {
	if len(m.GetUnknown()) > 0 {
		return string(m.Descriptor().FullName())
	}
	found := ""
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				if found = unknownFields(l.Get(i).Message()); found != "" {
					return false
				}
			}
			return true
		}
		found = unknownFields(v.Message())
		return found == ""
	})
	return found
}

package master

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// TestShareOfferCopiesEveryField: shareOffer must carry every field of
// mesos.Offer, including fields added to the message later.
func TestShareOfferCopiesEveryField(t *testing.T) {
	o := &mesos.Offer{}
	m := o.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			if fd.Message() != nil {
				l.AppendMutable()
			} else {
				l.Append(l.NewElement())
			}
		case fd.Message() != nil:
			m.Mutable(fd)
		case fd.Kind() == protoreflect.StringKind:
			m.Set(fd, protoreflect.ValueOfString("x"))
		default:
			m.Set(fd, fd.Default())
		}
	}
	shared := shareOffer(o)
	sm := shared.ProtoReflect()
	for i := 0; i < fields.Len(); i++ {
		if fd := fields.Get(i); !sm.Has(fd) {
			t.Errorf("shareOffer drops field %s", fd.Name())
		}
	}
	if !proto.Equal(o, shared) {
		t.Errorf("shared offer differs:\n%v\n%v", o, shared)
	}
}

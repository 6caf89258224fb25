package codec

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// JSONOptions changes how MarshalJSON writes. The zero value writes Mesos'
// form.
type JSONOptions struct {
	// OmitDefaults leaves out unset fields that have an explicit default,
	// which Mesos' form writes with their default value.
	OmitDefaults bool
	// MesosV1 leaves out, as Mesos 1.11's v1 HTTP APIs do, the fields and
	// enum values Mesos 1.11's v1 .proto files lack (mesos_v1.go): such a
	// field is not written, nor is an enum field holding such a value, nor
	// such a value in a list of enums. Mesos' v0 documents (/master/state,
	// the ZooKeeper MasterInfo) keep them; leave MesosV1 false for those.
	MesosV1 bool
}

// MarshalJSON encodes m in Mesos' JSON mapping.
func MarshalJSON(m proto.Message) ([]byte, error) {
	return JSONOptions{}.Append(nil, m)
}

// AppendJSON appends the Mesos JSON encoding of m to b.
func AppendJSON(b []byte, m proto.Message) ([]byte, error) {
	return JSONOptions{}.Append(b, m)
}

// Marshal encodes m in Mesos' JSON mapping with these options.
func (o JSONOptions) Marshal(m proto.Message) ([]byte, error) {
	return o.Append(nil, m)
}

// Append appends the JSON encoding of m to b.
func (o JSONOptions) Append(b []byte, m proto.Message) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	e := encoder{opts: o, buf: b}
	if err := e.message(m.ProtoReflect()); err != nil {
		return b, err
	}
	return e.buf, nil
}

type encoder struct {
	opts JSONOptions
	buf  []byte
}

func (e *encoder) message(m protoreflect.Message) error {
	e.buf = append(e.buf, '{')
	fields := m.Descriptor().Fields()
	first := true
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		var v protoreflect.Value
		switch {
		case m.Has(fd):
			v = m.Get(fd)
		case fd.Cardinality() != protoreflect.Repeated && fd.HasDefault() && !e.opts.OmitDefaults && !isDeprecated(fd):
			v = fd.Default()
		default:
			continue
		}
		if e.opts.MesosV1 && e.v1Omits(fd, v) {
			continue
		}
		if !first {
			e.buf = append(e.buf, ',')
		}
		first = false
		e.str(string(fd.Name()))
		e.buf = append(e.buf, ':')
		var err error
		switch {
		case fd.IsMap():
			err = e.mapValue(fd, v.Map())
		case fd.IsList():
			err = e.list(fd, v.List())
		default:
			err = e.single(fd, v)
		}
		if err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

func isDeprecated(fd protoreflect.FieldDescriptor) bool {
	opts, ok := fd.Options().(*descriptorpb.FieldOptions)
	return ok && opts.GetDeprecated()
}

// v1Omits reports whether MesosV1 leaves out field fd holding v: a field
// Mesos 1.11's v1 protos lack, or a singular enum holding a value they
// lack.
func (e *encoder) v1Omits(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
	if mesosV1LacksField(fd) {
		return true
	}
	return fd.Kind() == protoreflect.EnumKind && !fd.IsList() && !fd.IsMap() && mesosV1LacksValue(fd, v.Enum())
}

func (e *encoder) list(fd protoreflect.FieldDescriptor, l protoreflect.List) error {
	e.buf = append(e.buf, '[')
	written := 0
	for i := 0; i < l.Len(); i++ {
		if e.opts.MesosV1 && fd.Kind() == protoreflect.EnumKind && mesosV1LacksValue(fd, l.Get(i).Enum()) {
			continue
		}
		if written > 0 {
			e.buf = append(e.buf, ',')
		}
		written++
		if err := e.single(fd, l.Get(i)); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

func (e *encoder) mapValue(fd protoreflect.FieldDescriptor, m protoreflect.Map) error {
	// Keys are written sorted so the output is deterministic.
	keys := make([]protoreflect.MapKey, 0, m.Len())
	m.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	sortMapKeys(keys)
	e.buf = append(e.buf, '{')
	for i, k := range keys {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.str(k.String())
		e.buf = append(e.buf, ':')
		if err := e.single(fd.MapValue(), m.Get(k)); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

func (e *encoder) single(fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		e.buf = strconv.AppendBool(e.buf, v.Bool())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		e.buf = strconv.AppendInt(e.buf, v.Int(), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		e.buf = strconv.AppendUint(e.buf, v.Uint(), 10)
	case protoreflect.FloatKind:
		return e.float(fd, v.Float(), 32)
	case protoreflect.DoubleKind:
		return e.float(fd, v.Float(), 64)
	case protoreflect.StringKind:
		e.str(v.String())
	case protoreflect.BytesKind:
		b := v.Bytes()
		e.buf = append(e.buf, '"')
		e.buf = base64.StdEncoding.AppendEncode(e.buf, b)
		e.buf = append(e.buf, '"')
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			e.str(string(ev.Name()))
		} else {
			e.buf = strconv.AppendInt(e.buf, int64(v.Enum()), 10)
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return e.message(v.Message())
	default:
		return fmt.Errorf("field %s: unsupported kind %v", fd.FullName(), fd.Kind())
	}
	return nil
}

// float writes f as Mesos' JSON writer (rapidjson) does: the shortest
// decimal that reads back to the same value, whole values with ".0",
// exponent notation only for very large or very small magnitudes.
func (e *encoder) float(fd protoreflect.FieldDescriptor, f float64, bits int) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("field %s: %v cannot be written as JSON", fd.FullName(), f)
	}
	e.buf = AppendFloat(e.buf, f, bits)
	return nil
}

// AppendFloat appends f formatted as Mesos writes JSON numbers (see
// encoder.float): shortest round-trip digits, ".0" on whole values. bits is
// 32 or 64. f must be finite.
func AppendFloat(b []byte, f float64, bits int) []byte {
	if f == 0 {
		if math.Signbit(f) {
			return append(b, "-0.0"...)
		}
		return append(b, "0.0"...)
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	// Shortest digits and exponent: "d.ddddde±XX".
	var tmp [32]byte
	s := strconv.AppendFloat(tmp[:0], f, 'e', -1, bits)
	ePos := 0
	for i, c := range s {
		if c == 'e' {
			ePos = i
			break
		}
	}
	exp, _ := strconv.Atoi(string(s[ePos+1:]))
	var digits [32]byte
	nd := 0
	for _, c := range s[:ePos] {
		if c != '.' {
			digits[nd] = c
			nd++
		}
	}
	d := digits[:nd]
	// value = 0.d × 10^kk, i.e. the decimal point sits kk digits in.
	kk := exp + 1
	k := kk - nd
	switch {
	case k >= 0 && kk <= 21:
		b = append(b, d...)
		for i := 0; i < k; i++ {
			b = append(b, '0')
		}
		b = append(b, '.', '0')
	case kk > 0 && kk <= 21:
		b = append(b, d[:kk]...)
		b = append(b, '.')
		b = append(b, d[kk:]...)
	case kk > -6 && kk <= 0:
		b = append(b, '0', '.')
		for i := 0; i < -kk; i++ {
			b = append(b, '0')
		}
		b = append(b, d...)
	default:
		b = append(b, d[0])
		if nd > 1 {
			b = append(b, '.')
			b = append(b, d[1:]...)
		}
		b = append(b, 'e')
		b = strconv.AppendInt(b, int64(kk-1), 10)
	}
	return b
}

const hexDigits = "0123456789ABCDEF"

// str writes s as a JSON string, escaping only what JSON requires (quote,
// backslash, control characters), as Mesos does. Invalid UTF-8 is replaced
// by U+FFFD so the output is always valid JSON text.
func (e *encoder) str(s string) {
	e.buf = append(e.buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				e.buf = append(e.buf, s[start:i]...)
				e.buf = append(e.buf, "\ufffd"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		e.buf = append(e.buf, s[start:i]...)
		switch c {
		case '"':
			e.buf = append(e.buf, '\\', '"')
		case '\\':
			e.buf = append(e.buf, '\\', '\\')
		case '\b':
			e.buf = append(e.buf, '\\', 'b')
		case '\f':
			e.buf = append(e.buf, '\\', 'f')
		case '\n':
			e.buf = append(e.buf, '\\', 'n')
		case '\r':
			e.buf = append(e.buf, '\\', 'r')
		case '\t':
			e.buf = append(e.buf, '\\', 't')
		default:
			e.buf = append(e.buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	e.buf = append(e.buf, s[start:]...)
	e.buf = append(e.buf, '"')
}

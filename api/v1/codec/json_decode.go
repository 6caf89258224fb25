package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ErrMalformed is wrapped by every error that UnmarshalJSON and
// UnmarshalProto return for bad input, so HTTP handlers can answer 400.
var ErrMalformed = errors.New("malformed message")

// DecodeError describes bad input: where in the message it is and what is
// wrong with it. It wraps ErrMalformed.
type DecodeError struct {
	// Path is the dotted field path from the top-level message, with list
	// indexes in brackets (subscribe.framework_info.capabilities[0].type);
	// empty for a problem with the document as a whole.
	Path string
	// Problem says what is wrong.
	Problem string
}

// Error describes what went wrong.
func (e *DecodeError) Error() string {
	if e.Path == "" {
		return e.Problem
	}
	return e.Path + ": " + e.Problem
}

// Unwrap lets errors.Is(err, ErrMalformed) match.
func (e *DecodeError) Unwrap() error { return ErrMalformed }

// UnmarshalJSON decodes data, a JSON object in Mesos' JSON mapping, into m,
// replacing m's contents. See the package documentation for what is
// accepted.
func UnmarshalJSON(data []byte, m proto.Message) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return &DecodeError{Problem: "invalid JSON: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &DecodeError{Problem: "invalid JSON: unexpected data after the top-level value"}
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return &DecodeError{Problem: "expected a JSON object, got " + describe(doc)}
	}
	proto.Reset(m)
	if err := decodeMessage(m.ProtoReflect(), obj, ""); err != nil {
		return err
	}
	if err := proto.CheckInitialized(m); err != nil {
		return &DecodeError{Problem: missingRequired(err)}
	}
	return nil
}

// missingRequired turns the protobuf library's message into one in Mezzo's
// words.
func missingRequired(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "required field "); i >= 0 {
		rest := strings.TrimSuffix(msg[i+len("required field "):], " not set")
		return "missing required field " + rest
	}
	return msg
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func decodeMessage(m protoreflect.Message, obj map[string]any, path string) error {
	fields := m.Descriptor().Fields()
	// Visit keys in a fixed order so the first error reported is stable.
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fd := fields.ByName(protoreflect.Name(k))
		if fd == nil {
			continue // unknown keys are ignored, as Mesos does
		}
		v := obj[k]
		if v == nil {
			continue // null: not set
		}
		p := join(path, k)
		var err error
		switch {
		case fd.IsMap():
			err = decodeMap(m, fd, v, p)
		case fd.IsList():
			err = decodeList(m, fd, v, p)
		default:
			err = decodeSingular(m, fd, v, p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func decodeSingular(m protoreflect.Message, fd protoreflect.FieldDescriptor, v any, path string) error {
	if fd.Message() != nil {
		obj, ok := v.(map[string]any)
		if !ok {
			return &DecodeError{Path: path, Problem: "expected an object, got " + describe(v)}
		}
		return decodeMessage(m.Mutable(fd).Message(), obj, path)
	}
	val, ok, err := scalar(fd, v, path)
	if err != nil {
		return err
	}
	if !ok {
		if fd.Cardinality() == protoreflect.Required {
			return &DecodeError{Path: path, Problem: fmt.Sprintf("unknown value %v for enum %s", v, fd.Enum().FullName())}
		}
		return nil // unknown enum name in an optional field: left unset
	}
	m.Set(fd, val)
	return nil
}

func decodeList(m protoreflect.Message, fd protoreflect.FieldDescriptor, v any, path string) error {
	arr, ok := v.([]any)
	if !ok {
		return &DecodeError{Path: path, Problem: "expected an array, got " + describe(v)}
	}
	list := m.Mutable(fd).List()
	for i, item := range arr {
		p := fmt.Sprintf("%s[%d]", path, i)
		if item == nil {
			return &DecodeError{Path: p, Problem: "null is not allowed inside an array"}
		}
		if fd.Message() != nil {
			obj, ok := item.(map[string]any)
			if !ok {
				return &DecodeError{Path: p, Problem: "expected an object, got " + describe(item)}
			}
			elem := list.NewElement()
			if err := decodeMessage(elem.Message(), obj, p); err != nil {
				return err
			}
			list.Append(elem)
			continue
		}
		val, ok, err := scalar(fd, item, p)
		if err != nil {
			return err
		}
		if ok {
			list.Append(val)
		}
	}
	return nil
}

func decodeMap(m protoreflect.Message, fd protoreflect.FieldDescriptor, v any, path string) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return &DecodeError{Path: path, Problem: "expected an object, got " + describe(v)}
	}
	mp := m.Mutable(fd).Map()
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := path + "[" + strconv.Quote(k) + "]"
		key, err := mapKey(fd.MapKey(), k, p)
		if err != nil {
			return err
		}
		item := obj[k]
		if item == nil {
			continue
		}
		vd := fd.MapValue()
		if vd.Message() != nil {
			sub, ok := item.(map[string]any)
			if !ok {
				return &DecodeError{Path: p, Problem: "expected an object, got " + describe(item)}
			}
			val := mp.NewValue()
			if err := decodeMessage(val.Message(), sub, p); err != nil {
				return err
			}
			mp.Set(key, val)
			continue
		}
		val, ok, err := scalar(vd, item, p)
		if err != nil {
			return err
		}
		if ok {
			mp.Set(key, val)
		}
	}
	return nil
}

func mapKey(fd protoreflect.FieldDescriptor, k, path string) (protoreflect.MapKey, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(k).MapKey(), nil
	case protoreflect.BoolKind:
		switch k {
		case "true":
			return protoreflect.ValueOfBool(true).MapKey(), nil
		case "false":
			return protoreflect.ValueOfBool(false).MapKey(), nil
		}
		return protoreflect.MapKey{}, &DecodeError{Path: path, Problem: "map key must be true or false"}
	default:
		v, _, err := scalar(fd, json.Number(k), path)
		if err != nil {
			return protoreflect.MapKey{}, err
		}
		return v.MapKey(), nil
	}
}

// scalar converts a JSON value to the protobuf value of a non-message
// field. ok is false for an enum name the schema does not know.
func scalar(fd protoreflect.FieldDescriptor, v any, path string) (protoreflect.Value, bool, error) {
	bad := func(want string) (protoreflect.Value, bool, error) {
		return protoreflect.Value{}, false, &DecodeError{Path: path, Problem: "expected " + want + ", got " + describe(v)}
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		switch x := v.(type) {
		case bool:
			return protoreflect.ValueOfBool(x), true, nil
		case string:
			switch x {
			case "true":
				return protoreflect.ValueOfBool(true), true, nil
			case "false":
				return protoreflect.ValueOfBool(false), true, nil
			}
		}
		return bad("a boolean")
	case protoreflect.StringKind:
		if s, ok := v.(string); ok {
			return protoreflect.ValueOfString(s), true, nil
		}
		return bad("a string")
	case protoreflect.BytesKind:
		s, ok := v.(string)
		if !ok {
			return bad("a base64 string")
		}
		b, err := decodeBase64(s)
		if err != nil {
			return protoreflect.Value{}, false, &DecodeError{Path: path, Problem: "invalid base64: " + err.Error()}
		}
		return protoreflect.ValueOfBytes(b), true, nil
	case protoreflect.EnumKind:
		switch x := v.(type) {
		case string:
			ev := fd.Enum().Values().ByName(protoreflect.Name(x))
			if ev == nil {
				return protoreflect.Value{}, false, nil
			}
			return protoreflect.ValueOfEnum(ev.Number()), true, nil
		case json.Number:
			n, err := strconv.ParseInt(string(x), 10, 32)
			if err != nil {
				return bad("an enum name")
			}
			if fd.Enum().Values().ByNumber(protoreflect.EnumNumber(n)) == nil {
				return protoreflect.Value{}, false, nil
			}
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), true, nil
		}
		return bad("an enum name")
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		var f float64
		switch x := v.(type) {
		case json.Number:
			var err error
			if f, err = strconv.ParseFloat(string(x), 64); err != nil {
				return bad("a number")
			}
		case string:
			switch x {
			case "Infinity":
				f = math.Inf(1)
			case "-Infinity":
				f = math.Inf(-1)
			case "NaN":
				f = math.NaN()
			default:
				var err error
				if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
					return bad("a number")
				}
			}
		default:
			return bad("a number")
		}
		if fd.Kind() == protoreflect.FloatKind {
			if !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) > math.MaxFloat32 {
				return protoreflect.Value{}, false, &DecodeError{Path: path, Problem: "number out of range for a float"}
			}
			return protoreflect.ValueOfFloat32(float32(f)), true, nil
		}
		return protoreflect.ValueOfFloat64(f), true, nil
	}
	// Integers: a JSON number or a string holding one.
	var text string
	switch x := v.(type) {
	case json.Number:
		text = string(x)
	case string:
		text = strings.TrimSpace(x)
	default:
		return bad("an integer")
	}
	switch fd.Kind() {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := parseInt(text, 32)
		if err != nil {
			return protoreflect.Value{}, false, &DecodeError{Path: path, Problem: err.Error()}
		}
		return protoreflect.ValueOfInt32(int32(n)), true, nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := parseInt(text, 64)
		if err != nil {
			return protoreflect.Value{}, false, &DecodeError{Path: path, Problem: err.Error()}
		}
		return protoreflect.ValueOfInt64(n), true, nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := parseUint(text, 32)
		if err != nil {
			return protoreflect.Value{}, false, &DecodeError{Path: path, Problem: err.Error()}
		}
		return protoreflect.ValueOfUint32(uint32(n)), true, nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := parseUint(text, 64)
		if err != nil {
			return protoreflect.Value{}, false, &DecodeError{Path: path, Problem: err.Error()}
		}
		return protoreflect.ValueOfUint64(n), true, nil
	}
	return protoreflect.Value{}, false, &DecodeError{Path: path, Problem: fmt.Sprintf("unsupported field kind %v", fd.Kind())}
}

// parseInt reads an integer that may be written with a fraction or an
// exponent as long as its value is whole (1e3, 5.0).
func parseInt(text string, bits int) (int64, error) {
	if n, err := strconv.ParseInt(text, 10, bits); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, fmt.Errorf("expected an integer, got %q", text)
	}
	limit := math.Ldexp(1, bits-1)
	if f != math.Trunc(f) || f < -limit || f >= limit {
		return 0, fmt.Errorf("%s is not a %d-bit integer", text, bits)
	}
	return int64(f), nil
}

func parseUint(text string, bits int) (uint64, error) {
	if n, err := strconv.ParseUint(text, 10, bits); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, fmt.Errorf("expected an unsigned integer, got %q", text)
	}
	if f != math.Trunc(f) || f < 0 || f >= math.Ldexp(1, bits) {
		return 0, fmt.Errorf("%s is not an unsigned %d-bit integer", text, bits)
	}
	return uint64(f), nil
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\n', '\r', '\t':
			return -1
		case '-':
			return '+'
		case '_':
			return '/'
		}
		return r
	}, s)
	s = strings.TrimRight(s, "=")
	return base64.RawStdEncoding.DecodeString(s)
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func sortMapKeys(keys []protoreflect.MapKey) {
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i].Interface(), keys[j].Interface()
		switch x := a.(type) {
		case string:
			return x < b.(string)
		case bool:
			return !x && b.(bool)
		case int32:
			return x < b.(int32)
		case int64:
			return x < b.(int64)
		case uint32:
			return x < b.(uint32)
		case uint64:
			return x < b.(uint64)
		}
		return false
	})
}

package codec

import (
	"errors"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

func TestAppendFloatMatchesMesos(t *testing.T) {
	cases := []struct {
		in   float64
		want string
	}{
		{0, "0.0"},
		{1, "1.0"},
		{15, "15.0"},
		{0.1, "0.1"},
		{23081, "23081.0"},
		{1795326125.585411, "1795326125.585411"},
		{-2.5, "-2.5"},
		{0.001234, "0.001234"},
		{1e-7, "1e-7"},
		{1.5e-9, "1.5e-9"},
		{1e20, "100000000000000000000.0"},
		{1e21, "1e21"},
		{-1e22, "-1e22"},
		{1.234e30, "1.234e30"},
		{123456789012345680000, "123456789012345680000.0"},
	}
	for _, tc := range cases {
		if got := string(AppendFloat(nil, tc.in, 64)); got != tc.want {
			t.Errorf("AppendFloat(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStringEscaping(t *testing.T) {
	e := encoder{}
	e.str("a\"b\\c\n\x01</>\xffé")
	want := `"a\"b\\c\n\u0001</>` + "\ufffd" + `é"`
	if string(e.buf) != want {
		t.Fatalf("got %s, want %s", e.buf, want)
	}
}

func TestDefaultsEmittedUnlessDeprecated(t *testing.T) {
	m := &descriptorpb.FieldOptions{}
	b, err := MarshalJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	// ctype and jstype have explicit enum defaults, lazy/deprecated/weak
	// have explicit bool defaults.
	for _, want := range []string{`"ctype":"STRING"`, `"jstype":"JS_NORMAL"`, `"lazy":false`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	b, err = JSONOptions{OmitDefaults: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "{}" {
		t.Errorf("with OmitDefaults got %s, want {}", b)
	}
}

func TestUnmarshalLenient(t *testing.T) {
	in := `{"name":"f","number":"7","label":"LABEL_OPTIONAL","type":9,"json_name":null,
	        "options":{"deprecated":"true","packed":true,"unknownKey":[1,2]},"proto3_optional":false,"extra":{"a":1}}`
	var fd descriptorpb.FieldDescriptorProto
	if err := UnmarshalJSON([]byte(in), &fd); err != nil {
		t.Fatal(err)
	}
	if fd.GetNumber() != 7 || fd.GetType() != descriptorpb.FieldDescriptorProto_TYPE_STRING ||
		!fd.GetOptions().GetDeprecated() || fd.JsonName != nil || fd.GetName() != "f" {
		t.Fatalf("decoded %v", &fd)
	}
}

func TestUnmarshalErrorsNameTheField(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{`[1]`, "expected a JSON object, got an array"},
		{`{"name":5}`, "name: expected a string, got a number"},
		{`{"number":1.5}`, "number: 1.5 is not a 32-bit integer"},
		{`{"number":"x"}`, `number: expected an integer, got "x"`},
		{`{"options":{"deprecated":1}}`, "options.deprecated: expected a boolean, got a number"},
		{`{"name":"a"} {}`, "unexpected data after the top-level value"},
		{`{"name":`, "invalid JSON"},
		{`{"number":99999999999}`, "number: 99999999999 is not a 32-bit integer"},
	}
	for _, tc := range cases {
		var fd descriptorpb.FieldDescriptorProto
		err := UnmarshalJSON([]byte(tc.in), &fd)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want error containing %q", tc.in, err, tc.want)
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v does not wrap ErrMalformed", tc.in, err)
		}
	}
}

func TestRequiredFieldMissing(t *testing.T) {
	// UninterpretedOption.NamePart has two required fields.
	var np descriptorpb.UninterpretedOption_NamePart
	err := UnmarshalJSON([]byte(`{"name_part":"x"}`), &np)
	if err == nil || !strings.Contains(err.Error(), "missing required field") || !strings.Contains(err.Error(), "is_extension") {
		t.Fatalf("got %v", err)
	}
}

func TestBytesAndDoubles(t *testing.T) {
	var uo descriptorpb.UninterpretedOption
	if err := UnmarshalJSON([]byte(`{"string_value":"aGk","double_value":"-Infinity","negative_int_value":"-5"}`), &uo); err != nil {
		t.Fatal(err)
	}
	if string(uo.GetStringValue()) != "hi" || !math.IsInf(uo.GetDoubleValue(), -1) || uo.GetNegativeIntValue() != -5 {
		t.Fatalf("decoded %v", &uo)
	}
	uo.DoubleValue = proto.Float64(2)
	b, err := MarshalJSON(&uo)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"negative_int_value":-5,"double_value":2.0,"string_value":"aGk="}`; string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
	uo.DoubleValue = proto.Float64(math.NaN())
	if _, err := MarshalJSON(&uo); err == nil {
		t.Fatal("NaN encoded without error")
	}
}

func TestNegotiate(t *testing.T) {
	cases := []struct {
		accept string
		want   Format
		ok     bool
	}{
		{"", JSON, true},
		{"application/json", JSON, true},
		{"application/x-protobuf", Protobuf, true},
		{"application/x-protobuf, application/json", JSON, true},
		{"application/json;q=0, application/x-protobuf", Protobuf, true},
		{"*/*", JSON, true},
		{"application/*", JSON, true},
		{"APPLICATION/X-PROTOBUF", Protobuf, true},
		{"text/html", JSON, false},
		{"application/json;q=0.0", JSON, false},
	}
	for _, tc := range cases {
		got, ok := Negotiate(tc.accept)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("Negotiate(%q) = %v,%v want %v,%v", tc.accept, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := FormatOf("application/json; charset=utf-8"); ok {
		t.Error("Content-Type with parameters must be unsupported, as in Mesos")
	}
}

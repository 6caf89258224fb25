package resources

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseAttributes(t *testing.T) {
	got, err := ParseAttributes("rack:r1;zone:us-east-1a;level:3;ports:[1-10,5-20]\n os : linux ; url:http://x:80/a;neg:-3;big:1e400;half:0.5;inf:inf;;")
	if err != nil {
		t.Fatal(err)
	}
	want := []Attribute{
		{Name: "rack", Type: ValueText, Text: "r1"},
		{Name: "zone", Type: ValueText, Text: "us-east-1a"},
		{Name: "level", Type: ValueScalar, Scalar: 3 * Unit},
		{Name: "ports", Type: ValueRanges, Ranges: Ranges{{1, 20}}},
		{Name: "os", Type: ValueText, Text: "linux"},
		{Name: "url", Type: ValueText, Text: "http://x:80/a"}, // split at the first ':'
		{Name: "neg", Type: ValueText, Text: "-3"},            // negative numbers are text, as in Mesos
		{Name: "big", Type: ValueText, Text: "1e400"},
		{Name: "half", Type: ValueScalar, Scalar: 500},
		{Name: "inf", Type: ValueText, Text: "inf"},
	}
	if !slices.EqualFunc(got, want, Attribute.Equal) {
		t.Errorf("ParseAttributes =\n%v\nwant\n%v", got, want)
	}
	const formatted = "rack:r1;zone:us-east-1a;level:3;ports:[1-20];os:linux;url:http://x:80/a;neg:-3;big:1e400;half:0.5;inf:inf"
	if f := FormatAttributes(got); f != formatted {
		t.Errorf("FormatAttributes = %q", f)
	}
	if got[3].String() != "ports=[1-20]" {
		t.Errorf("String() = %q", got[3].String())
	}
}

func TestParseAttributesErrors(t *testing.T) {
	tests := []struct {
		text, token string
		offset      int
		reason      string
	}{
		{"rack", "rack", 0, "want name:value"},
		{"rack:r1;:x", ":x", 8, "empty attribute name"},
		{"rack:r1\nzone:", "zone:", 8, "empty value"},
		{"tags:{a,b}", "tags:{a,b}", 0, "set values are not supported"},
		{"x:a(b", "x:a(b", 0, "mismatched brackets"},
		{"x:a[1-2]", "x:a[1-2]", 0, "unexpected '['"},
		{"x:[3-1]", "x:[3-1]", 0, "begin > end"},
		{"x:1e-320", "x:1e-320", 0, "subnormal"},
	}
	for _, tt := range tests {
		_, err := ParseAttributes(tt.text)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Token != tt.token || pe.Offset != tt.offset || !strings.Contains(pe.Reason, tt.reason) {
			t.Errorf("ParseAttributes(%q) error = %#v; want token %q at %d, reason %q", tt.text, err, tt.token, tt.offset, tt.reason)
		}
	}
}

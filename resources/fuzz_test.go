package resources

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

var parseSeeds = []string{
	"",
	"cpus:4;mem:1024;disk:2048;ports:[31000-32000,40000-40010];gpus:0;cpus(ads):2;bugs:{a,b,c}",
	" cpus ( ads ) : 0.5 ; mem : 1 024 ",
	"cpus:1;cpus:2.5;cpus(*):0.0005",
	"ports:[5-9,1-2,3-4,,8-12];ports:[]",
	"cpus(web/batch):1e3;mem(a.b):+2.",
	"bugs:{b,a};bugs:{c,a};bugs:{}",
	"cpus:-1", "cpus:inf", "cpus:1e-310", "cpus:0.0001", "cpus(a//b):1", "cpus(web:1", "cpus(web)x:1",
	"ports:[1-2-3]", "ports:[18446744073709551615-18446744073709551615]", "bugs:{a,a}", "x:(1", "a)b(c):1",
	"cpus::4", ":4", "os:linux",
}

func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, role := range []string{"*", "web"} {
			rs, err := Parse(text, role)
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("Parse(%q) error %v is not a *ParseError", text, err)
				}
				if pe.Input != text || pe.Offset < 0 || pe.Offset+len(pe.Token) > len(text) || text[pe.Offset:pe.Offset+len(pe.Token)] != pe.Token {
					t.Fatalf("Parse(%q): error %#v does not locate its token", text, pe)
				}
				continue
			}
			for r := range rs.All() {
				if err := r.Validate(); err != nil || r.IsEmpty() {
					t.Fatalf("Parse(%q) holds invalid or empty %v: %v", text, r, err)
				}
			}
			out := Format(rs)
			back, err := Parse(out, "*")
			if err != nil || !back.Equal(rs) {
				t.Fatalf("Parse(%q) = %v; Format = %q; parsed back %v, %v", text, rs, out, back, err)
			}
			if Format(back) != out {
				t.Fatalf("Format is not stable: %q then %q", out, Format(back))
			}
			_ = rs.String()
			fromProto, err := FromProto(ToProto(rs, FormatEndpoint))
			if err != nil || !fromProto.Equal(rs) {
				t.Fatalf("protobuf round trip of %v = %v, %v", rs, fromProto, err)
			}
		}
	})
}

func FuzzParseAttributes(f *testing.F) {
	for _, s := range []string{
		"",
		"rack:r1;zone:us-east-1a;level:3;ports:[1-10]",
		"os : linux\nurl:http://x:80/a;neg:-3;big:1e400;half:0.5;inf:inf;;",
		"tags:{a,b}", "x:a(b", "x:(a)", "x:[3-1]", "x:1e-320", ":x", "rack",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		attrs, err := ParseAttributes(text)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || text[pe.Offset:pe.Offset+len(pe.Token)] != pe.Token {
				t.Fatalf("ParseAttributes(%q) error %v does not locate its token", text, err)
			}
			return
		}
		for _, a := range attrs {
			if a.Name == "" || strings.ContainsAny(a.Name, ";:\n") || a.Type == ValueSet {
				t.Fatalf("ParseAttributes(%q) returned %+v", text, a)
			}
			_ = a.String()
		}
		out := FormatAttributes(attrs)
		back, err := ParseAttributes(out)
		if err != nil || !slices.EqualFunc(back, attrs, Attribute.Equal) {
			t.Fatalf("ParseAttributes(%q) = %v; Format = %q; parsed back %v, %v", text, attrs, out, back, err)
		}
		fromProto, err := AttributesFromProto(AttributesToProto(attrs))
		if err != nil || !slices.EqualFunc(fromProto, attrs, Attribute.Equal) {
			t.Fatalf("protobuf round trip of %v = %v, %v", attrs, fromProto, err)
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":4}}]`,
		`[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1,"end":5},{"begin":7,"end":9}]},"role":"web"}]`,
		`[{"name":"bugs","type":"SET","set":{"item":["a","b"]},"reservations":[{"type":"STATIC","role":"a"}]}]`,
		`[{"name":"disk","type":"SCALAR","scalar":{"value":1},"disk":{"source":{"type":"MOUNT","mount":{"root":"/m"}}}}]`,
		`[]`, `{}`, `[1]`, `[{"name":"cpus","type":"SCALAR","scalar":{"value":"NaN"}}]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		rs, err := ParseJSON([]byte(text), "web")
		if err != nil {
			return
		}
		for _, format := range []ProtoFormat{FormatPostRefinement, FormatPreRefinement, FormatEndpoint} {
			back, err := FromProto(ToProto(rs, format))
			if err != nil || !back.Equal(rs) {
				t.Fatalf("protobuf round trip of %v = %v, %v", rs, back, err)
			}
		}
	})
}

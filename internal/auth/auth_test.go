package auth

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "creds")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadCredentialsFormats(t *testing.T) {
	for name, content := range map[string]string{
		"json": `{"credentials": [{"principal": "alice", "secret": "s1"}, {"principal": "bob", "secret": "s2"}]}`,
		"text": "# comment\nalice s1\n\n  bob   s2  \n",
	} {
		t.Run(name, func(t *testing.T) {
			cs, err := ReadCredentials(writeFile(t, content))
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != 2 || !cs.Check("alice", "s1") || !cs.Check("bob", "s2") {
				t.Fatalf("credentials = %v", cs)
			}
			if cs.Check("alice", "s2") || cs.Check("carol", "s1") || cs.Check("alice", "") {
				t.Fatal("a wrong secret or unknown principal was accepted")
			}
		})
	}
}

func TestReadCredentialsBadFiles(t *testing.T) {
	for name, tc := range map[string]struct{ content, want string }{
		"empty":           {"", "empty"},
		"bad json":        {`{"credentials": [`, "invalid JSON"},
		"unknown field":   {`{"credentials": [{"principal": "a", "secret": "b", "x": 1}]}`, "invalid JSON"},
		"no entries":      {`{"credentials": []}`, "no credentials"},
		"no secret":       {`{"credentials": [{"principal": "a"}]}`, `principal "a" has no secret`},
		"no principal":    {`{"credentials": [{"secret": "a"}]}`, "entry 1 has no principal"},
		"duplicate":       {"a x\na y\n", `principal "a" is given twice`},
		"three words":     {"a b c\n", "line 1"},
		"one word (text)": {"alice\n", "line 1"},
	} {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, tc.content)
			_, err := ReadCredentials(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want one naming %s and %q", err, p, tc.want)
			}
		})
	}
	if _, err := ReadCredentials(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing file: err = %v", err)
	}
}

func TestReadCredential(t *testing.T) {
	for _, content := range []string{`{"principal": "agent", "secret": "pw"}`, "agent pw\n"} {
		c, err := ReadCredential(writeFile(t, content))
		if err != nil || c != (Credential{"agent", "pw"}) {
			t.Fatalf("%q: %+v, %v", content, c, err)
		}
	}
	for _, content := range []string{`{"principal": "agent"}`, "a b\nc d\n", "", `{"principal":`} {
		if _, err := ReadCredential(writeFile(t, content)); err == nil {
			t.Fatalf("%q: accepted", content)
		}
	}
}

func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestRequireBasic(t *testing.T) {
	var got string
	h := RequireBasic(RealmMasterReadonly, Basic{Credentials: Credentials{"alice": "s1"}},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ = PrincipalFrom(r.Context())
		}))
	for name, header := range map[string]string{
		"none":         "",
		"wrong secret": basicHeader("alice", "nope"),
		"unknown":      basicHeader("mallory", "s1"),
		"bearer":       "Bearer abc",
		"bad base64":   "Basic !!!",
		"extra colon":  basicHeader("alice", "s1:x"),
	} {
		r := httptest.NewRequest("GET", "/state", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != `Basic realm="mesos-master-readonly"` {
			t.Errorf("%s: %d %q", name, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	r := httptest.NewRequest("GET", "/state", nil)
	r.Header.Set("Authorization", basicHeader("alice", "s1"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || got != "alice" {
		t.Fatalf("good credentials: %d, principal %q", w.Code, got)
	}
}

func TestExecutorToken(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	c := ExecutorClaims{FrameworkID: "f1", ExecutorID: "e1", ContainerID: "c1"}
	tok, err := IssueExecutorToken(key, c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyExecutorToken(key, tok)
	if err != nil || got != c {
		t.Fatalf("verify: %+v, %v", got, err)
	}
	if _, err := VerifyExecutorToken([]byte("another key"), tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("wrong key: %v", err)
	}
	// A tampered payload (another container) breaks the signature.
	parts := strings.Split(tok, ".")
	other, _ := IssueExecutorToken(key, ExecutorClaims{FrameworkID: "f1", ExecutorID: "e1", ContainerID: "c2"})
	forged := parts[0] + "." + strings.Split(other, ".")[1] + "." + parts[2]
	if _, err := VerifyExecutorToken(key, forged); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("forged claims: %v", err)
	}
	// The "none" algorithm and missing claims are refused.
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"fid": "f1", "eid": "e1", "cid": "c1"}).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	if _, err := VerifyExecutorToken(key, none); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("alg none: %v", err)
	}
	partial, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"fid": "f1"}).SignedString(key)
	if _, err := VerifyExecutorToken(key, partial); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("missing claims: %v", err)
	}
}

func TestBearerToken(t *testing.T) {
	for header, want := range map[string][2]string{
		"":           {"", ""},
		"Bearer abc": {"abc", ""},
		"Basic abc":  {"", "Scheme 'Basic' unsupported"},
		"Bearer":     {"", "Malformed 'Authorization' header"},
	} {
		r := httptest.NewRequest("POST", "/api/v1/executor", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		tok, problem := BearerToken(r)
		if tok != want[0] || problem != want[1] {
			t.Errorf("%q: %q %q", header, tok, problem)
		}
	}
}

func TestCrossSite(t *testing.T) {
	for _, tc := range []struct {
		origin, referer string
		want            bool
	}{
		{"", "", false},
		{"http://master:5050", "", false},
		{"", "http://master:5050/#/frameworks", false},
		{"http://evil.example", "", true},
		{"", "http://evil.example/page", true},
		{"null", "", true},
	} {
		r := httptest.NewRequest("POST", "http://master:5050/master/teardown", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.referer != "" {
			r.Header.Set("Referer", tc.referer)
		}
		if got := CrossSite(r); got != tc.want {
			t.Errorf("origin %q referer %q: %v", tc.origin, tc.referer, got)
		}
	}
}

func TestCRAMMD5(t *testing.T) {
	cs := Credentials{"alice": "s1"}
	ch, err := NewCRAMMD5Challenge("master", time.Unix(1700000000, 0))
	if err != nil || !strings.HasPrefix(ch, "<") || !strings.HasSuffix(ch, ".1700000000@master>") {
		t.Fatalf("challenge %q, %v", ch, err)
	}
	// RFC 2195's example.
	rfc := CRAMMD5Response("tim", "tanstaaftanstaaf", "<1896.697170952@postoffice.reston.mci.net>")
	if string(rfc) != "tim b913a602c7eda7a495b4e6e7334d3890" {
		t.Fatalf("RFC 2195 example: %q", rfc)
	}
	if p, ok := VerifyCRAMMD5(cs, ch, CRAMMD5Response("alice", "s1", ch)); !ok || p != "alice" {
		t.Fatalf("good response: %q %v", p, ok)
	}
	// A principal with spaces: the digest follows the last one, as Cyrus
	// SASL's server reads the response.
	spaced := Credentials{"data team": "s3"}
	if p, ok := VerifyCRAMMD5(spaced, ch, CRAMMD5Response("data team", "s3", ch)); !ok || p != "data team" {
		t.Fatalf("principal with a space: %q %v", p, ok)
	}
	other, _ := NewCRAMMD5Challenge("master", time.Unix(1700000000, 0))
	for name, resp := range map[string][]byte{
		"wrong secret":    CRAMMD5Response("alice", "s2", ch),
		"unknown":         CRAMMD5Response("mallory", "s1", ch),
		"other challenge": CRAMMD5Response("alice", "s1", other),
		"garbage":         []byte("alice"),
	} {
		if _, ok := VerifyCRAMMD5(cs, ch, resp); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	b := EncodeFields(WireField{1, []byte("CRAM-MD5")}, WireField{2, nil}, WireField{1, []byte("x")})
	fields, err := DecodeFields(b)
	if err != nil || len(fields[1]) != 2 || string(fields[1][0]) != "CRAM-MD5" || len(fields[2]) != 1 {
		t.Fatalf("fields %v, %v", fields, err)
	}
	if _, err := DecodeFields([]byte{0x0a, 0x05, 'a'}); err == nil {
		t.Fatal("a truncated message decoded")
	}
}

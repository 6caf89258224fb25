package auth

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// writeTemp writes b to a file of t's and returns its path.
func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// FuzzReadCredentials feeds credentials files (--credentials,
// --http_credentials) in either of Mesos' formats. A file that is
// refused gets an error naming it; one that is accepted holds only
// principals and secrets that are not empty, and reads back the same
// from its JSON and its text re-encoding (the text one when every
// principal and secret is one word the text format can carry).
func FuzzReadCredentials(f *testing.F) {
	for _, s := range []string{
		`{"credentials": [{"principal": "alice", "secret": "s3cret"}, {"principal": "agent", "secret": "pw"}]}`,
		"alice s3cret\n# comment\n\nagent pw\n",
		`{"credentials": []}`,
		`{"credentials": [{"principal": "a", "secret": "x"}, {"principal": "a", "secret": "y"}]}`,
		`{"credentials": [{"principal": "", "secret": "x"}], "extra": 1}`,
		"alice\n",
		"a b c\n",
		"\xff\xfe x\n",
		`{"credentials": [{"principal": "\u00e9 t", "secret": "a\"b"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := writeTemp(t, "credentials", data)
		cs, err := ReadCredentials(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if len(cs) == 0 {
			t.Fatal("accepted a file without credentials")
		}
		var doc struct {
			Credentials []Credential `json:"credentials"`
		}
		words := true
		var text strings.Builder
		// A file beginning with '{' is read as JSON: in the text
		// re-encoding, principals beginning with '{' come last.
		principals := slices.SortedFunc(maps.Keys(cs), func(a, b string) int {
			if ja, jb := strings.HasPrefix(a, "{"), strings.HasPrefix(b, "{"); ja != jb {
				if ja {
					return 1
				}
				return -1
			}
			return strings.Compare(a, b)
		})
		words = !strings.HasPrefix(principals[0], "{")
		for _, p := range principals {
			s := cs[p]
			if p == "" || s == "" {
				t.Fatalf("accepted an empty principal or secret: %q %q", p, s)
			}
			doc.Credentials = append(doc.Credentials, Credential{Principal: p, Secret: s})
			words = words && oneWord(p) && oneWord(s) && !strings.HasPrefix(p, "#")
			text.WriteString(p + " " + s + "\n")
		}
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ReadCredentials(writeTemp(t, "credentials.json", b))
		if err != nil || !reflect.DeepEqual(back, cs) {
			t.Fatalf("JSON re-encoding %s reads back %v, %v; want %v", b, back, err, cs)
		}
		if words {
			back, err := ReadCredentials(writeTemp(t, "credentials.txt", []byte(text.String())))
			if err != nil || !reflect.DeepEqual(back, cs) {
				t.Fatalf("text re-encoding %q reads back %v, %v; want %v", text.String(), back, err, cs)
			}
		}
	})
}

// oneWord reports whether s survives the text format: one field of
// strings.Fields, valid UTF-8 (bufio and Fields split on Unicode
// spaces).
func oneWord(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsSpace) && s != ""
}

// FuzzReadCredential feeds the agent's --credential file: refused with an
// error naming the file, or one principal and secret, both set, that
// read back the same from JSON.
func FuzzReadCredential(f *testing.F) {
	for _, s := range []string{
		`{"principal": "agent", "secret": "pw"}`,
		"agent pw\n",
		"agent pw\nother x\n",
		`{"principal": "agent"}`,
		`{"principal": "agent", "secret": "pw", "x": 1}`,
		"# only a comment\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := writeTemp(t, "credential", data)
		c, err := ReadCredential(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if c.Principal == "" || c.Secret == "" {
			t.Fatalf("accepted %+v", c)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ReadCredential(writeTemp(t, "credential.json", b))
		if err != nil || back != c {
			t.Fatalf("JSON re-encoding %s reads back %+v, %v; want %+v", b, back, err, c)
		}
	})
}

// FuzzBasicAuthorization feeds HTTP Basic Authorization headers. What
// BasicCredentials accepts is a principal and a secret without ':' that
// re-encode to a header giving them back; Basic authenticates the header
// exactly when its credentials hold that pair, never with another
// secret.
func FuzzBasicAuthorization(f *testing.F) {
	for _, s := range []string{
		"Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret")),
		"Basic " + base64.StdEncoding.EncodeToString([]byte("a:b:c")),
		"Basic " + base64.StdEncoding.EncodeToString([]byte(":")),
		"Basic " + base64.StdEncoding.EncodeToString([]byte("nocolon")),
		"Basic not-base64!",
		"basic YTpi",
		"Bearer x.y.z",
		"Basic",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r, _ := http.NewRequest(http.MethodGet, "http://master/state", nil)
		r.Header.Set("Authorization", header)
		p, s, ok := BasicCredentials(r)
		if !ok {
			if p != "" || s != "" {
				t.Fatalf("refused header returned %q %q", p, s)
			}
			if _, accepted := (Basic{Credentials: Credentials{"": "", "alice": "s3cret"}}).Authenticate(r); accepted {
				t.Fatalf("Authenticate accepted a header BasicCredentials refuses: %q", header)
			}
			return
		}
		if strings.Contains(p, ":") || strings.Contains(s, ":") {
			t.Fatalf("a principal or secret holds ':': %q %q", p, s)
		}
		again, _ := http.NewRequest(http.MethodGet, "http://master/state", nil)
		again.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(p+":"+s)))
		if p2, s2, ok2 := BasicCredentials(again); !ok2 || p2 != p || s2 != s {
			t.Fatalf("re-encoded %q %q reads back %q %q %v", p, s, p2, s2, ok2)
		}
		got, accepted := (Basic{Credentials: Credentials{p: s}}).Authenticate(r)
		if !accepted || got != p {
			t.Fatalf("credentials {%q: %q} do not authenticate their own header: %q %v", p, s, got, accepted)
		}
		if _, accepted := (Basic{Credentials: Credentials{p: s + "x"}}).Authenticate(r); accepted {
			t.Fatalf("another secret than %q authenticated", s)
		}
	})
}

// FuzzExecutorToken feeds executor tokens and Authorization headers to
// the agent's checks. A token the key verifies yields all three claims
// and fails under any other key; a token issued for claims verifies to
// them, and one changed in any byte does not; the challenge answering a
// bad header stays one well-formed WWW-Authenticate value.
func FuzzExecutorToken(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	good, err := IssueExecutorToken(key, ExecutorClaims{FrameworkID: "fw", ExecutorID: "ex", ContainerID: "c1"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(key, good, "fw", "ex", "c1", 5)
	f.Add(key, "Bearer "+good, "fw", "ex", "", 0)
	f.Add([]byte("k"), "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJmaWQiOiJmdyJ9.", "", "", "", 0)
	f.Add([]byte{}, `Basic "quoted\`, "a\"b", "e", "c", 1)
	f.Fuzz(func(t *testing.T, key []byte, token, fid, eid, cid string, flip int) {
		if c, err := VerifyExecutorToken(key, token); err == nil {
			if c.FrameworkID == "" || c.ExecutorID == "" || c.ContainerID == "" {
				t.Fatalf("verified token with a missing claim: %+v", c)
			}
			if _, err := VerifyExecutorToken(append([]byte("other"), key...), token); err == nil {
				t.Fatal("a token verified under two keys")
			}
		}
		claims := ExecutorClaims{FrameworkID: fid, ExecutorID: eid, ContainerID: cid}
		if tok, err := IssueExecutorToken(key, claims); err == nil {
			c, err := VerifyExecutorToken(key, tok)
			complete := fid != "" && eid != "" && cid != ""
			switch {
			case complete && (err != nil || c != claims):
				t.Fatalf("issued for %+v, verifies to %+v, %v", claims, c, err)
			case !complete && err == nil:
				t.Fatalf("a token without every claim verified: %+v", claims)
			}
			if complete {
				b := []byte(tok)
				i := (flip%len(b) + len(b)) % len(b)
				b[i] ^= 0x01
				if c2, err := VerifyExecutorToken(key, string(b)); err == nil && c2 != claims {
					t.Fatalf("a token changed at byte %d verified to other claims %+v", i, c2)
				}
			}
		} else if len(key) != 0 && utf8.ValidString(fid) && utf8.ValidString(eid) && utf8.ValidString(cid) {
			t.Fatalf("no token issued with a key: %v", err)
		}
		r, _ := http.NewRequest(http.MethodPost, "http://agent/api/v1/executor", nil)
		r.Header.Set("Authorization", token)
		tok, problem := BearerToken(r)
		if problem != "" && tok != "" {
			t.Fatalf("both a token %q and a problem %q", tok, problem)
		}
		if token != "" && strings.TrimSpace(token) != "" && problem == "" && tok == "" {
			t.Fatalf("header %q gave neither a token nor a problem", token)
		}
		checkChallenge(t, BearerChallenge(RealmAgentExecutor, problem))
	})
}

// checkChallenge checks that ch is a Bearer challenge of comma-separated
// auth-params whose quoted strings all end where they should.
func checkChallenge(t *testing.T, ch string) {
	t.Helper()
	rest, ok := strings.CutPrefix(ch, "Bearer ")
	if !ok || strings.ContainsAny(ch, "\r\n") {
		t.Fatalf("malformed challenge %q", ch)
	}
	for n := 0; rest != ""; n++ {
		name, after, ok := strings.Cut(rest, `="`)
		if !ok || strings.ContainsAny(name, ` ",=`) {
			t.Fatalf("challenge %q: auth-param %d is malformed", ch, n)
		}
		i := 0
		for ; i < len(after); i++ {
			if after[i] == '\\' {
				i++
				continue
			}
			if after[i] == '"' {
				break
			}
		}
		if i >= len(after) {
			t.Fatalf("challenge %q: auth-param %q does not end", ch, name)
		}
		rest = after[i+1:]
		if rest != "" {
			var ok bool
			if rest, ok = strings.CutPrefix(rest, ", "); !ok {
				t.Fatalf("challenge %q: text after auth-param %q", ch, name)
			}
		}
	}
}

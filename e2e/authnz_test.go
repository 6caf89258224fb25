package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAuthorizationOfAuthenticatedOperators runs a master with HTTP
// authentication and ACLs that let each operator view, and tear down,
// only the frameworks of its own: what alice and bob see in
// /master/state, the operator API's GET_STATE and GET_FRAMEWORKS, and
// which teardowns the master refuses.
func TestAuthorizationOfAuthenticatedOperators(t *testing.T) {
	work := t.TempDir()
	creds := filepath.Join(work, "credentials")
	acls := filepath.Join(work, "acls.json")
	write(t, creds, "alice "+alicePW+"\nbob "+bobPW+"\n")
	if err := os.Chmod(creds, 0o600); err != nil {
		t.Fatal(err)
	}
	// Frameworks run as user "ua" (alice's) or "ub" (bob's); their
	// principals are alice and bob.
	write(t, acls, `{
	"view_frameworks": [
		{"principals": {"values": ["alice"]}, "users": {"values": ["ua"]}},
		{"principals": {"values": ["bob"]}, "users": {"values": ["ub"]}},
		{"principals": {"type": "ANY"}, "users": {"type": "NONE"}}],
	"teardown_frameworks": [
		{"principals": {"values": ["alice"]}, "framework_principals": {"values": ["alice"]}},
		{"principals": {"values": ["bob"]}, "framework_principals": {"values": ["bob"]}},
		{"principals": {"type": "ANY"}, "framework_principals": {"type": "NONE"}}]
}`)
	master := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start(t, "master", "master", "--ip=127.0.0.1", "--port="+strings.Split(master, ":")[1], "--registry=in_memory",
		"--authenticate_http_readonly", "--authenticate_http_readwrite", "--credentials="+creds, "--acls=file://"+acls)
	waitFor(t, 20*time.Second, "master health", func() error { return httpOK("http://" + master + "/health") })

	// The scheduler API is not protected here: frameworks name their
	// principal in FrameworkInfo.
	a := subscribeRaw(t, master, `{"user": "ua", "name": "alice-fw", "principal": "alice"}`)
	aID, _ := dig(a.next("SUBSCRIBED"), "subscribed", "framework_id", "value").(string)
	b := subscribeRaw(t, master, `{"user": "ub", "name": "bob-fw", "principal": "bob"}`)
	bID, _ := dig(b.next("SUBSCRIBED"), "subscribed", "framework_id", "value").(string)

	as := func(principal, secret, method, path, contentType, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+master+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if principal != "" {
			req.SetBasicAuth(principal, secret)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
			req.Header.Set("Accept", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	for _, tc := range []struct {
		principal, secret, sees, hidden string
	}{{"alice", alicePW, aID, bID}, {"bob", bobPW, bID, aID}} {
		for _, read := range []struct{ method, path, body string }{
			{"GET", "/master/state", ""},
			{"GET", "/master/frameworks", ""},
			{"POST", "/api/v1", `{"type": "GET_STATE"}`},
			{"POST", "/api/v1", `{"type": "GET_FRAMEWORKS"}`},
		} {
			ct := ""
			if read.body != "" {
				ct = "application/json"
			}
			code, body := as(tc.principal, tc.secret, read.method, read.path, ct, read.body)
			if code != http.StatusOK || !strings.Contains(body, tc.sees) || strings.Contains(body, tc.hidden) {
				t.Errorf("%s %s %s as %s: %d; want %s listed and %s not:\n%.400s", read.method, read.path, read.body, tc.principal, code, tc.sees, tc.hidden, body)
			}
		}
	}
	// Without credentials the readonly realm refuses the request.
	if code, _ := as("", "", "GET", "/master/state", "", ""); code != http.StatusUnauthorized {
		t.Errorf("/master/state without credentials: %d, want 401", code)
	}
	// alice may not tear down bob's framework, on either API; her own, she may.
	form := "application/x-www-form-urlencoded"
	if code, body := as("alice", alicePW, "POST", "/master/teardown", form, url.Values{"frameworkId": {bID}}.Encode()); code != http.StatusForbidden {
		t.Errorf("alice tearing down bob's framework: %d %s, want 403", code, body)
	}
	if code, body := as("alice", alicePW, "POST", "/api/v1", "application/json",
		`{"type": "TEARDOWN", "teardown": {"framework_id": {"value": "`+bID+`"}}}`); code != http.StatusForbidden {
		t.Errorf("alice's TEARDOWN of bob's framework: %d %s, want 403", code, body)
	}
	if code, body := as("alice", alicePW, "POST", "/master/teardown", form, url.Values{"frameworkId": {aID}}.Encode()); code != http.StatusOK {
		t.Errorf("alice tearing down her framework: %d %s, want 200", code, body)
	}
	var st struct {
		Frameworks []struct {
			ID string `json:"id"`
		} `json:"frameworks"`
	}
	if err := getJSONAs("http://"+master+"/master/state", "bob", bobPW, &st); err != nil || len(st.Frameworks) != 1 || st.Frameworks[0].ID != bID {
		t.Errorf("bob's view after the teardowns: %v, %v; want his framework alone, still there", st.Frameworks, err)
	}
}

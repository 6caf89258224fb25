package master

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/mezzo-project/mezzo/api/v1/httpapi"
)

// TestOversizedBodiesAnswer413 posts to every master endpoint that reads a
// request body a valid document padded past the body limit: each must
// answer 413 Request Entity Too Large rather than cut the body and act on
// the part it read (/machine/down and /machine/up answered 200).
func TestOversizedBodiesAnswer413(t *testing.T) {
	_, srv := testMaster(t)
	pad := bytes.Repeat([]byte(" "), httpapi.DefaultMaxBodySize)
	for _, c := range []struct {
		method, path, contentType, doc string
	}{
		{"POST", "/master/machine/down", "application/json", `[{"hostname":"m1"}]`},
		{"POST", "/master/machine/up", "application/json", `[{"hostname":"m1"}]`},
		{"POST", "/master/maintenance/schedule", "application/json", `{"windows":[]}`},
		{"POST", "/master/quota", "application/json", `{"role":"r","guarantee":[]}`},
		{"PUT", "/master/weights", "application/json", `[]`},
		{"POST", "/master/teardown", "application/x-www-form-urlencoded", `frameworkId=x`},
		{"POST", "/master/reserve", "application/x-www-form-urlencoded", `slaveId=x`},
		{"POST", "/master/api/v1", "application/json", `{"type":"GET_HEALTH"}`},
		{"POST", "/master/api/v1/scheduler", "application/json", `{"type":"SUBSCRIBE"}`},
	} {
		body := append([]byte(c.doc), pad...)
		req, err := http.NewRequest(c.method, srv.URL+c.path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", c.contentType)
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s %s with a %d-byte body: %d, want 413", c.method, c.path, len(body), resp.StatusCode)
		}
	}
}

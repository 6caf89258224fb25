package webui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	resp := rec.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestHandlerServesThePageAndItsModules checks what the browser loads: the
// page at "/", each module it names under Prefix with a JavaScript type,
// and a policy that keeps every load and connection on this origin.
func TestHandlerServesThePageAndItsModules(t *testing.T) {
	h := Handler()
	resp, page := get(t, h, http.MethodGet, "/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `<script type="module" src="/ui/app.js">`) {
		t.Fatalf("GET /: %d\n%s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Fatalf("Content-Security-Policy %q", csp)
	}
	for _, p := range []string{"app.js", "api.js", "model.js", "router.js", "ui.js", "pages/overview.js", "pages/tasks.js", "pages/task.js",
		"pages/agents.js", "pages/frameworks.js", "pages/roles.js", "pages/maintenance.js"} {
		resp, body := get(t, h, http.MethodGet, Prefix+p)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") || len(body) < 100 {
			t.Errorf("GET %s%s: %d %q, %d bytes", Prefix, p, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		// No module reaches for another origin (the SVG namespace is a name).
		body = strings.ReplaceAll(body, `"http://www.w3.org/2000/svg"`, "")
		for _, bad := range []string{"http://", "https://", "//cdn"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s names %q", p, bad)
			}
		}
	}
	if resp, body := get(t, h, http.MethodGet, Prefix+"style.css"); resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("GET style.css: %d %q %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
}

// TestHandlerRefusesWhatItDoesNotServe: unknown files, directory listings,
// paths outside the assets and other methods get clear answers.
func TestHandlerRefusesWhatItDoesNotServe(t *testing.T) {
	h := Handler()
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, Prefix + "nope.js", http.StatusNotFound},
		{http.MethodGet, Prefix, http.StatusNotFound},
		{http.MethodGet, Prefix + "pages/", http.StatusNotFound},
		{http.MethodGet, Prefix + "../webui.go", http.StatusNotFound},
		{http.MethodGet, "/elsewhere", http.StatusNotFound},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodDelete, Prefix + "app.js", http.StatusMethodNotAllowed},
	} {
		if resp, body := get(t, h, c.method, c.path); resp.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d: %s", c.method, c.path, resp.StatusCode, c.want, body)
		}
	}
	if resp, _ := get(t, h, http.MethodHead, "/"); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD /: %d", resp.StatusCode)
	}
}

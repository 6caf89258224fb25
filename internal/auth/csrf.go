package auth

import (
	"net/http"
	"net/url"
	"strings"
)

// CrossSite reports whether r is a browser request sent from another
// site: its Origin (or, without one, its Referer) names a host other
// than the one r was sent to. Requests without either header (curl, the
// CLI, SDKs) are not cross-site. Browsers attach stored Basic
// credentials to cross-site form posts, so once authentication is on an
// endpoint that changes state refuses such requests.
func CrossSite(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" {
		return false
	}
	if src == "null" {
		// An opaque origin (sandboxed frame, file:, redirect chains).
		return true
	}
	u, err := url.Parse(src)
	if err != nil || u.Host == "" {
		return true
	}
	return !strings.EqualFold(u.Host, r.Host)
}

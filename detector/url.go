package detector

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// ErrBadURL is wrapped by every error ParseURL returns for a malformed URL.
var ErrBadURL = errors.New("bad master URL")

// URL says where to find the leading master: a ZooKeeper ensemble and the
// path the masters contend under, or one fixed master.
type URL struct {
	// Servers are the ZooKeeper servers, "host:port" each (port 2181 when
	// the URL names none). Empty for a fixed master.
	Servers []string
	// Path is the znode the masters contend under, for example "/mesos":
	// absolute, without a trailing slash.
	Path string
	// Username and Password are the digest credentials from
	// zk://user:pass@...; both empty when the URL has none.
	Username, Password string
	// Master is the fixed master's "host:port" when the URL names one
	// instead of a ZooKeeper ensemble.
	Master string
}

// IsZooKeeper reports whether the URL names a ZooKeeper ensemble rather
// than a fixed master.
func (u *URL) IsZooKeeper() bool { return len(u.Servers) > 0 }

// String returns the URL in the form ParseURL reads, with the password
// masked.
func (u *URL) String() string {
	if !u.IsZooKeeper() {
		return u.Master
	}
	auth := ""
	if u.Username != "" || u.Password != "" {
		auth = u.Username + ":****@"
	}
	return "zk://" + auth + strings.Join(u.Servers, ",") + u.Path
}

// ParseURL parses a master URL in one of the forms Mesos accepts (see the
// package documentation). A file:// URL is read once; the file must hold a
// zk:// or host:port URL.
func ParseURL(s string) (*URL, error) {
	return parseURL(strings.TrimSpace(s), true)
}

func parseURL(s string, fileAllowed bool) (*URL, error) {
	switch {
	case s == "":
		return nil, fmt.Errorf("%w: empty", ErrBadURL)
	case strings.HasPrefix(s, "zk://"):
		return parseZK(s)
	case strings.HasPrefix(s, "file://"):
		if !fileAllowed {
			return nil, fmt.Errorf("%w: %q: a file:// URL may not point at another file", ErrBadURL, s)
		}
		path := strings.TrimPrefix(s, "file://")
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: reading the URL from %s: %w", ErrBadURL, path, err)
		}
		u, err := parseURL(strings.TrimSpace(string(b)), false)
		if err != nil {
			return nil, fmt.Errorf("URL in %s: %w", path, err)
		}
		return u, nil
	case strings.Contains(s, "://"):
		return nil, fmt.Errorf("%w: %q: unsupported scheme (want zk://, file:// or host:port)", ErrBadURL, s)
	}
	hostport := strings.TrimPrefix(s, "master@")
	host, port, err := splitHostPort(hostport, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrBadURL, s, err)
	}
	return &URL{Master: net.JoinHostPort(host, port)}, nil
}

func parseZK(s string) (*URL, error) {
	rest := strings.TrimPrefix(s, "zk://")
	authority, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	u := &URL{}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		cred := authority[:i]
		authority = authority[i+1:]
		user, pass, ok := strings.Cut(cred, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("%w: %q: credentials must be user:password", ErrBadURL, s)
		}
		u.Username, u.Password = user, pass
	}
	if authority == "" {
		return nil, fmt.Errorf("%w: %q: no ZooKeeper servers", ErrBadURL, s)
	}
	for _, h := range strings.Split(authority, ",") {
		host, port, err := splitHostPort(h, true)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: server %q: %w", ErrBadURL, s, h, err)
		}
		u.Servers = append(u.Servers, net.JoinHostPort(host, port))
	}
	path = strings.TrimRight(path, "/")
	if path == "" {
		return nil, fmt.Errorf("%w: %q: empty path (want zk://hosts/path, for example zk://%s/mesos)", ErrBadURL, s, authority)
	}
	for _, part := range strings.Split(path[1:], "/") {
		if part == "" || part == "." || part == ".." {
			return nil, fmt.Errorf("%w: %q: path %q has an empty, \".\" or \"..\" component", ErrBadURL, s, path)
		}
	}
	u.Path = path
	return u, nil
}

// splitHostPort checks "host:port"; with portOptional a bare host gets
// ZooKeeper's port 2181.
func splitHostPort(s string, portOptional bool) (host, port string, err error) {
	if s == "" {
		return "", "", errors.New("empty host")
	}
	host, port, err = net.SplitHostPort(s)
	if err != nil {
		if !portOptional || strings.Count(s, ":") > 0 && !strings.HasPrefix(s, "[") {
			return "", "", fmt.Errorf("want host:port: %w", err)
		}
		host, port = strings.Trim(s, "[]"), "2181"
	}
	if host == "" {
		return "", "", errors.New("empty host")
	}
	if net.ParseIP(host) == nil && !validHostname(host) {
		return "", "", fmt.Errorf("bad host %q", host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("bad port %q (want 1-65535)", port)
	}
	return host, port, nil
}

// validHostname accepts DNS names: letters, digits, '-', '_' and '.'.
func validHostname(h string) bool {
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_':
		default:
			return false
		}
	}
	return !strings.HasPrefix(h, ".") && !strings.HasPrefix(h, "-")
}

// Detected reports whether a master address names where masters elect
// their leader (zk:// or file://), to be followed with a Detector,
// rather than one fixed master.
func Detected(master string) bool {
	return strings.HasPrefix(master, "zk://") || strings.HasPrefix(master, "file://")
}

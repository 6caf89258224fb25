package service

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"text/template"
)

// Context is what a role's templates (command, env, files, health
// command) see:
//
//	{{.Service}} {{.Role}} {{.Index}}      the service, role and instance index
//	{{.Host}} {{.Hostname}}                the agent's address and hostname
//	{{.Ports.redis}}                       this instance's port named redis
//	{{.Home}}                              the role's home
//	{{(peer "master" 0).Host}}             instance 0 of role master
//	{{range peers "worker"}}{{.Host}}:{{.Ports.rpc}} {{end}}
//
// peer fails (and the instance waits) while that instance is not placed.
type Context struct {
	Service, Role  string
	Index          int
	Host, Hostname string
	Ports          map[string]uint64
	Home           string
}

// Peer is a placed instance of a role, as templates see it.
type Peer struct {
	Index          int
	Host, Hostname string
	Ports          map[string]uint64
}

// peerSource returns the placed instances of a role, by index.
type peerSource func(role string) []Peer

func templateFuncs(peers peerSource) template.FuncMap {
	return template.FuncMap{
		"peer": func(role string, index int) (Peer, error) {
			if peers != nil {
				for _, p := range peers(role) {
					if p.Index == index {
						return p, nil
					}
				}
			}
			return Peer{}, fmt.Errorf("instance %d of role %s is not placed yet", index, role)
		},
		"peers": func(role string) []Peer {
			if peers == nil {
				return nil
			}
			return peers(role)
		},
	}
}

// rendered is a role's templates filled for one instance.
type rendered struct {
	Command string
	Env     map[string]string
	Files   map[string]string
	Health  string
}

// hash identifies the rendering: an instance whose rendering changed is
// restarted (a rolling update).
func (r rendered) hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "command\x00%s\x00health\x00%s\x00", r.Command, r.Health)
	for _, m := range []map[string]string{r.Env, r.Files} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(h, "%s\x00%s\x00", k, m[k])
		}
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func render(role *RoleSpec, ctx Context, peers peerSource) (rendered, error) {
	one := func(what, text string) (string, error) {
		t, err := template.New(what).Funcs(templateFuncs(peers)).Option("missingkey=error").Parse(text)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		var b strings.Builder
		if err := t.Execute(&b, ctx); err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		return b.String(), nil
	}
	var out rendered
	var err error
	if out.Command, err = one("command", role.Command); err != nil {
		return out, err
	}
	out.Env = map[string]string{}
	for k, v := range role.Env {
		if out.Env[k], err = one("env "+k, v); err != nil {
			return out, err
		}
	}
	out.Files = map[string]string{}
	for k, v := range role.Files {
		if out.Files[k], err = one("file "+k, v); err != nil {
			return out, err
		}
	}
	if role.Health != nil {
		if out.Health, err = one("health command", role.Health.Command); err != nil {
			return out, err
		}
	}
	return out, nil
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// script is the task's shell command: write the files (their contents
// come through environment variables MEZZO_FILE_<n>), then exec the
// command.
func (r rendered) script() (string, map[string]string) {
	names := make([]string, 0, len(r.Files))
	for k := range r.Files {
		names = append(names, k)
	}
	sort.Strings(names)
	env := map[string]string{}
	var b strings.Builder
	for i, n := range names {
		v := fmt.Sprintf("MEZZO_FILE_%d", i)
		env[v] = r.Files[n]
		if strings.Contains(n, "/") {
			fmt.Fprintf(&b, "mkdir -p %s && ", shellQuote(n[:strings.LastIndex(n, "/")]))
		}
		fmt.Fprintf(&b, "printf '%%s' \"$%s\" > %s && ", v, shellQuote(n))
	}
	b.WriteString(r.Command)
	return b.String(), env
}

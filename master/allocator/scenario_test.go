package allocator

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/resources"
)

var update = flag.Bool("update", false, "rewrite the golden output of testdata/*.txt scenarios")

// TestScenarios runs the scripts in testdata/*.txt. A script is a list of
// commands, each followed by "----" and the output it must produce, then a
// blank line; '#' lines are comments. Run with -update to rewrite the
// expected output. Commands:
//
//	agent ID RESOURCES                      add an agent
//	framework ID roles=a,b [suppressed=a] [min=cpus:1|mem:64] [backoff=off]
//	weight ROLE W
//	quota ROLE [guarantee=cpus:2;mem:10] [limit=cpus:4]
//	allocate [summary]                      full cycle; prints the offers
//	decline FW [refuse=5s]                  decline FW's outstanding offers
//	accept FW [refuse=5s]                   FW uses its offers (tasks)
//	finish FW AGENT RESOURCES               a task of FW ends
//	hoard FW                                FW's offers time out unanswered
//	suppress FW [ROLE...] / revive FW [ROLE...]
//	reserve AGENT RESOURCES                 operator RESERVE of free resources
//	advance DURATION
//	shares                                  allocation by framework and role
func TestScenarios(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no scenarios")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScenario(t, file)
		})
	}
}

type scenario struct {
	t      *testing.T
	a      *Allocator
	now    time.Time
	offers map[string][]Offer // outstanding, by framework
	fws    []string
}

type block struct {
	comments []string
	cmd      string
	want     string
}

func parseScript(t *testing.T, text string) []block {
	var blocks []block
	lines := strings.Split(text, "\n")
	var cur block
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "#"):
			cur.comments = append(cur.comments, l)
		case strings.TrimSpace(l) == "":
		default:
			cur.cmd = l
			i++
			if i >= len(lines) || lines[i] != "----" {
				t.Fatalf("line %d: command %q without ----", i+1, l)
			}
			var out []string
			for i+1 < len(lines) && lines[i+1] != "" {
				i++
				out = append(out, lines[i])
			}
			cur.want = strings.Join(out, "\n")
			blocks = append(blocks, cur)
			cur = block{}
		}
	}
	return blocks
}

func runScenario(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := &scenario{t: t, a: New(DefaultOptions()), now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), offers: map[string][]Offer{}}
	var b strings.Builder
	for _, bl := range parseScript(t, string(data)) {
		got := strings.TrimRight(s.run(bl.cmd), "\n")
		if got == "" {
			got = "ok"
		}
		for _, c := range bl.comments {
			b.WriteString(c + "\n")
		}
		fmt.Fprintf(&b, "%s\n----\n%s\n\n", bl.cmd, got)
		if !*update && got != bl.want {
			t.Errorf("%s: %s\ngot:\n%s\nwant:\n%s", file, bl.cmd, got, bl.want)
		}
		checkInvariants(t, s.a)
	}
	if *update {
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *scenario) res(text string) resources.Resources {
	r, err := resources.Parse(text, "*")
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

func args(fields []string) map[string]string {
	m := map[string]string{}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k] = v
		}
	}
	return m
}

func (s *scenario) duration(text, def string) time.Duration {
	if text == "" {
		text = def
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		s.t.Fatal(err)
	}
	return d
}

func (s *scenario) quantities(text string) map[string]resources.Scalar {
	if text == "" {
		return nil
	}
	q, err := resources.ParseQuantities(text)
	if err != nil {
		s.t.Fatal(err)
	}
	m := map[string]resources.Scalar{}
	for n, v := range q.All() {
		m[n] = v
	}
	return m
}

func (s *scenario) run(line string) string {
	f := strings.Fields(line)
	kv := args(f[1:])
	switch f[0] {
	case "agent":
		s.a.AddAgent(f[1], s.res(f[2]))
	case "framework":
		info := Framework{Roles: strings.Split(kv["roles"], ",")}
		if kv["suppressed"] != "" {
			info.Suppressed = strings.Split(kv["suppressed"], ",")
		}
		if kv["min"] != "" {
			info.MinAllocatable = map[string][]resources.Quantities{}
			for _, r := range info.Roles {
				for _, set := range strings.Split(kv["min"], "|") {
					q, err := resources.ParseQuantities(set)
					if err != nil {
						s.t.Fatal(err)
					}
					info.MinAllocatable[r] = append(info.MinAllocatable[r], q)
				}
			}
		}
		s.a.AddFramework(f[1], info)
		s.fws = append(s.fws, f[1])
	case "weight":
		w, _ := strconv.ParseFloat(f[2], 64)
		s.a.SetWeight(f[1], w)
	case "quota":
		s.a.SetQuota(f[1], Quota{Guarantees: s.quantities(kv["guarantee"]), Limits: s.quantities(kv["limit"])})
	case "allocate":
		offers := s.a.Allocate(s.now)
		for _, o := range offers {
			s.offers[o.FrameworkID] = append(s.offers[o.FrameworkID], o)
		}
		return s.printOffers(offers, len(f) > 1 && f[1] == "summary")
	case "decline", "hoard":
		refuse := s.duration(kv["refuse"], "5s")
		n := len(s.offers[f[1]])
		for _, o := range s.offers[f[1]] {
			s.a.Decline(o.FrameworkID, o.AgentID, o.Role, o.Resources, refuse, s.now)
		}
		delete(s.offers, f[1])
		return fmt.Sprintf("%s %d offers", f[0]+"d", n)
	case "declineall":
		// Every framework but the named ones declines its offers.
		n := 0
		for _, fw := range s.fws {
			if slices.Contains(f[1:], fw) {
				continue
			}
			for _, o := range s.offers[fw] {
				s.a.Decline(o.FrameworkID, o.AgentID, o.Role, o.Resources, DefaultRefuse, s.now)
				n++
			}
			delete(s.offers, fw)
		}
		return fmt.Sprintf("declined %d offers", n)
	case "accept":
		n := len(s.offers[f[1]])
		roles := map[string]bool{}
		for _, o := range s.offers[f[1]] {
			roles[o.Role] = true
		}
		for r := range roles {
			s.a.Launched(f[1], r)
		}
		delete(s.offers, f[1])
		return fmt.Sprintf("launched on %d offers", n)
	case "finish":
		role := "*"
		if kv["role"] != "" {
			role = kv["role"]
		}
		s.a.Recover(f[1], f[2], role, s.res(f[3]), 0, s.now)
	case "suppress":
		s.a.Suppress(f[1], f[2:])
	case "revive":
		s.a.Revive(f[1], f[2:])
	case "reserve":
		to := s.res(f[2])
		var dyn []resources.Resource
		for r := range to.All() {
			r.Reservations = []resources.Reservation{{Type: resources.ReservationDynamic, Role: r.Role()}}
			dyn = append(dyn, r)
		}
		to, _ = resources.New(dyn...)
		from, err := to.PopReservation()
		if err == nil {
			err = s.a.UpdateAvailable(f[1], from, to)
		}
		if err != nil {
			return "error: " + err.Error()
		}
	case "advance":
		s.now = s.now.Add(s.duration(f[1], ""))
	case "shares":
		return s.shares()
	default:
		s.t.Fatalf("unknown command %q", f[0])
	}
	return ""
}

func (s *scenario) printOffers(offers []Offer, summary bool) string {
	if len(offers) == 0 {
		return "no offers"
	}
	var b strings.Builder
	if summary {
		count := map[string]int{}
		cpus := map[string]resources.Scalar{}
		var order []string
		for _, o := range offers {
			if count[o.FrameworkID] == 0 {
				order = append(order, o.FrameworkID)
			}
			count[o.FrameworkID]++
			cpus[o.FrameworkID] += o.Resources.ScalarOf("cpus")
		}
		slices.Sort(order)
		for _, fw := range order {
			fmt.Fprintf(&b, "%s: %d offers, cpus %v\n", fw, count[fw], cpus[fw])
		}
		return b.String()
	}
	for _, o := range offers {
		fmt.Fprintf(&b, "%s %s(%s): %s\n", o.AgentID, o.FrameworkID, o.Role, resources.Format(o.Resources))
	}
	return b.String()
}

func (s *scenario) shares() string {
	var b strings.Builder
	for _, fw := range s.fws {
		f := s.a.frameworks[fw]
		if f == nil {
			continue
		}
		for _, role := range sortedRoles(f) {
			c := f.clients[role]
			fmt.Fprintf(&b, "%s(%s): %s\n", fw, role, s.a.toQuantities(c.alloc))
		}
	}
	return b.String()
}

// checkInvariants checks the allocator's books: every agent's free plus
// allocations equals its total.
func checkInvariants(t *testing.T, a *Allocator) {
	t.Helper()
	for id, ag := range a.agents {
		sum := ag.free
		for _, r := range ag.allocs {
			sum = sum.Add(r)
		}
		if !sum.Equal(ag.total) {
			t.Fatalf("agent %s: free %v + allocations = %v, total %v", id, ag.free, sum, ag.total)
		}
	}
}

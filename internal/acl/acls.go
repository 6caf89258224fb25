package acl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Action names an authorizable action by its field in Mesos' ACLs
// message ("register_frameworks", "run_tasks", ...).
type Action string

// The actions Mezzo's master and agent ask about.
const (
	RegisterFrameworks         Action = "register_frameworks"
	RunTasks                   Action = "run_tasks"
	TeardownFrameworks         Action = "teardown_frameworks"
	ReserveResources           Action = "reserve_resources"
	UnreserveResources         Action = "unreserve_resources"
	CreateVolumes              Action = "create_volumes"
	DestroyVolumes             Action = "destroy_volumes"
	ResizeVolumes              Action = "resize_volumes"
	GetQuotas                  Action = "get_quotas"
	UpdateQuotas               Action = "update_quotas"
	UpdateWeights              Action = "update_weights"
	ViewRoles                  Action = "view_roles"
	ViewFrameworks             Action = "view_frameworks"
	ViewTasks                  Action = "view_tasks"
	ViewExecutors              Action = "view_executors"
	ViewFlags                  Action = "view_flags"
	GetEndpoints               Action = "get_endpoints"
	AccessSandboxes            Action = "access_sandboxes"
	AccessMesosLogs            Action = "access_mesos_logs"
	SetLogLevel                Action = "set_log_level"
	RegisterAgents             Action = "register_agents"
	UpdateMaintenanceSchedules Action = "update_maintenance_schedules"
	GetMaintenanceSchedules    Action = "get_maintenance_schedules"
	StartMaintenances          Action = "start_maintenances"
	StopMaintenances           Action = "stop_maintenances"
	GetMaintenanceStatuses     Action = "get_maintenance_statuses"
	MarkAgentsGone             Action = "mark_agents_gone"
	DrainAgents                Action = "drain_agents"
	DeactivateAgents           Action = "deactivate_agents"
	ReactivateAgents           Action = "reactivate_agents"
	ViewContainers             Action = "view_containers"
)

// actionSpec is what the ACLs message says of one action's rules.
type actionSpec struct {
	// object is the name of the rules' object field.
	object string
	// anyOrNone: Mesos' validation takes only ANY or NONE objects for the
	// action (it has no particular object).
	anyOrNone bool
	// roles: the objects are roles, with "a/%" for the roles below "a".
	roles bool
	// paths: the objects are endpoint paths, from authorizableEndpoints.
	paths bool
	// noOperation: Mezzo has no operation this action governs (nested or
	// standalone containers, resource providers, disks of resource
	// providers, image pruning); its rules are read, checked and never
	// asked, as nothing they could allow exists.
	noOperation bool
}

// actions lists every field of Mesos 1.11's ACLs message.
var actions = map[Action]actionSpec{
	RegisterFrameworks:         {object: "roles", roles: true},
	RunTasks:                   {object: "users"},
	TeardownFrameworks:         {object: "framework_principals"},
	ReserveResources:           {object: "roles", roles: true},
	UnreserveResources:         {object: "reserver_principals"},
	CreateVolumes:              {object: "roles", roles: true},
	DestroyVolumes:             {object: "creator_principals"},
	ResizeVolumes:              {object: "roles", roles: true},
	GetQuotas:                  {object: "roles", roles: true},
	UpdateQuotas:               {object: "roles", roles: true},
	UpdateWeights:              {object: "roles", roles: true},
	ViewRoles:                  {object: "roles", roles: true},
	ViewFrameworks:             {object: "users"},
	ViewTasks:                  {object: "users"},
	ViewExecutors:              {object: "users"},
	ViewFlags:                  {object: "flags", anyOrNone: true},
	GetEndpoints:               {object: "paths", paths: true},
	AccessSandboxes:            {object: "users"},
	AccessMesosLogs:            {object: "logs", anyOrNone: true},
	SetLogLevel:                {object: "level", anyOrNone: true},
	RegisterAgents:             {object: "agents", anyOrNone: true},
	UpdateMaintenanceSchedules: {object: "machines", anyOrNone: true},
	GetMaintenanceSchedules:    {object: "machines", anyOrNone: true},
	StartMaintenances:          {object: "machines", anyOrNone: true},
	StopMaintenances:           {object: "machines", anyOrNone: true},
	GetMaintenanceStatuses:     {object: "machines", anyOrNone: true},
	MarkAgentsGone:             {object: "agents", anyOrNone: true},
	DrainAgents:                {object: "agents", anyOrNone: true},
	DeactivateAgents:           {object: "agents", anyOrNone: true},
	ReactivateAgents:           {object: "agents", anyOrNone: true},

	"launch_nested_containers_as_user":                        {object: "users", noOperation: true},
	"launch_nested_containers_under_parent_with_user":         {object: "users", noOperation: true},
	"kill_nested_containers":                                  {object: "users", noOperation: true},
	"wait_nested_containers":                                  {object: "users", noOperation: true},
	"launch_nested_container_sessions_as_user":                {object: "users", noOperation: true},
	"launch_nested_container_sessions_under_parent_with_user": {object: "users", noOperation: true},
	"attach_containers_input":                                 {object: "users", noOperation: true},
	"attach_containers_output":                                {object: "users", noOperation: true},
	"view_containers":                                         {object: "users"},
	"remove_nested_containers":                                {object: "users", noOperation: true},
	"launch_standalone_containers":                            {object: "users", anyOrNone: true, noOperation: true},
	"kill_standalone_containers":                              {object: "users", anyOrNone: true, noOperation: true},
	"wait_standalone_containers":                              {object: "users", anyOrNone: true, noOperation: true},
	"remove_standalone_containers":                            {object: "users", anyOrNone: true, noOperation: true},
	"view_standalone_containers":                              {object: "users", anyOrNone: true, noOperation: true},
	"modify_resource_provider_configs":                        {object: "resource_providers", anyOrNone: true, noOperation: true},
	"mark_resource_providers_gone":                            {object: "resource_providers", anyOrNone: true, noOperation: true},
	"view_resource_providers":                                 {object: "resource_providers", anyOrNone: true, noOperation: true},
	"prune_images":                                            {object: "images", anyOrNone: true, noOperation: true},
	"create_block_disks":                                      {object: "roles", roles: true, noOperation: true},
	"destroy_block_disks":                                     {object: "roles", roles: true, noOperation: true},
	"create_mount_disks":                                      {object: "roles", roles: true, noOperation: true},
	"destroy_mount_disks":                                     {object: "roles", roles: true, noOperation: true},
	"destroy_raw_disks":                                       {object: "roles", roles: true, noOperation: true},
}

// authorizableEndpoints are the paths get_endpoints rules may name (Mesos'
// AUTHORIZABLE_ENDPOINTS).
var authorizableEndpoints = map[string]bool{
	"/containers":          true,
	"/containerizer/debug": true,
	"/files/debug":         true,
	"/logging/toggle":      true,
	"/metrics/snapshot":    true,
	"/monitor/statistics":  true,
}

// EntityType is Mesos' ACL.Entity.Type.
type EntityType int

// The entity types.
const (
	// Some is a list of values (the default when "type" is absent).
	Some EntityType = iota
	// Any is every value.
	Any
	// None is no value.
	None
)

func (t EntityType) String() string {
	switch t {
	case Any:
		return "ANY"
	case None:
		return "NONE"
	}
	return "SOME"
}

// Entity is one side of a rule: its subjects or its objects.
type Entity struct {
	Type EntityType
	// Values are the entity's values when Type is Some; Mesos ignores
	// them otherwise, and so does Mezzo.
	Values []string
}

// Rule is one ACL: who (Principals) may or may not act on what (Objects).
type Rule struct {
	Principals Entity
	Objects    Entity
}

// ACLs is a parsed --acls document.
type ACLs struct {
	// Permissive decides the requests no rule matches (default true).
	Permissive bool
	// Rules are each action's rules in the order given.
	Rules map[Action][]Rule
}

// Parse reads an ACLs document in Mesos' JSON form. Unlike Mesos, which
// ignores fields it does not know, an unknown action or field is an error
// naming it: a misspelt action would otherwise leave a request allowed.
func Parse(data []byte) (*ACLs, error) {
	var top map[string]json.RawMessage
	if err := strictUnmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("ACLs are not a JSON object: %w", err)
	}
	if top == nil {
		return nil, errors.New("ACLs are not a JSON object: null")
	}
	out := &ACLs{Permissive: true, Rules: map[Action][]Rule{}}
	var errs []error
	for _, key := range sortedKeys(top) {
		raw := top[key]
		if key == "permissive" {
			if err := json.Unmarshal(raw, &out.Permissive); err != nil {
				errs = append(errs, fmt.Errorf("'permissive' must be true or false, not %s", raw))
			}
			continue
		}
		spec, ok := actions[Action(key)]
		if !ok {
			errs = append(errs, fmt.Errorf("unknown ACL %q%s (the ACLs are the fields of Mesos' ACLs message, include/mesos/authorizer/acls.proto)", key, suggest(key)))
			continue
		}
		rules, err := parseRules(key, spec, raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out.Rules[Action(key)] = rules
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseFlag reads the value of an --acls flag as Mesos does: a path
// ("file:///path/to/acls.json", or an absolute "/path/to/acls.json") of
// a file holding the JSON, or the JSON itself.
func ParseFlag(value string) (*ACLs, error) {
	data := []byte(value)
	if path, ok := strings.CutPrefix(value, "file://"); ok || strings.HasPrefix(value, "/") {
		if !ok {
			path = value
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading the ACLs: %w", err)
		}
		data = b
	}
	a, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return a, nil
}

func parseRules(action string, spec actionSpec, raw json.RawMessage) ([]Rule, error) {
	var items []map[string]json.RawMessage
	if err := strictUnmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%s: want a list of {\"principals\": ..., %q: ...}: %w", action, spec.object, err)
	}
	rules := make([]Rule, 0, len(items))
	var errs []error
	for i, item := range items {
		at := fmt.Sprintf("%s[%d]", action, i)
		var r Rule
		var err error
		for _, field := range sortedKeys(item) {
			switch field {
			case "principals":
				r.Principals, err = parseEntity(at+".principals", item[field])
			case spec.object:
				r.Objects, err = parseEntity(at+"."+field, item[field])
			default:
				err = fmt.Errorf("%s: unknown field %q (a %s rule has \"principals\" and %q)", at, field, action, spec.object)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		for _, field := range []string{"principals", spec.object} {
			if _, ok := item[field]; !ok {
				errs = append(errs, fmt.Errorf("%s: missing required field %q", at, field))
			}
		}
		if spec.anyOrNone && r.Objects.Type == Some {
			if _, ok := item[spec.object]; ok {
				errs = append(errs, fmt.Errorf("%s.%s: the type must be either NONE or ANY (%s has no particular objects)", at, spec.object, action))
			}
		}
		if spec.paths && r.Objects.Type == Some {
			for _, p := range r.Objects.Values {
				if !authorizableEndpoints[p] {
					errs = append(errs, fmt.Errorf("%s.paths: %q is not an authorizable path (want one of %s)", at, p, strings.Join(sortedKeys(authorizableEndpoints), ", ")))
				}
			}
		}
		rules = append(rules, r)
	}
	return rules, errors.Join(errs...)
}

func parseEntity(at string, raw json.RawMessage) (Entity, error) {
	var fields map[string]json.RawMessage
	if err := strictUnmarshal(raw, &fields); err != nil || fields == nil {
		return Entity{}, fmt.Errorf("%s: want {\"values\": [...]} or {\"type\": \"ANY\"|\"NONE\"}, not %s", at, raw)
	}
	var e Entity
	for _, f := range sortedKeys(fields) {
		switch f {
		case "type":
			var t string
			if err := json.Unmarshal(fields[f], &t); err != nil {
				return Entity{}, fmt.Errorf("%s.type: want \"SOME\", \"ANY\" or \"NONE\", not %s", at, fields[f])
			}
			switch t {
			case "SOME":
				e.Type = Some
			case "ANY":
				e.Type = Any
			case "NONE":
				e.Type = None
			default:
				return Entity{}, fmt.Errorf("%s.type: unknown type %q (want SOME, ANY or NONE)", at, t)
			}
		case "values":
			if err := json.Unmarshal(fields[f], &e.Values); err != nil {
				return Entity{}, fmt.Errorf("%s.values: want a list of strings, not %s", at, fields[f])
			}
		default:
			return Entity{}, fmt.Errorf("%s: unknown field %q (an entity has \"type\" and \"values\")", at, f)
		}
	}
	return e, nil
}

// strictUnmarshal decodes one JSON value, refusing trailing data.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// suggest names the action closest to a misspelt one, when one is close.
func suggest(name string) string {
	best, bestDist := "", 4
	for a := range actions {
		if d := editDistance(name, string(a)); d < bestDist || d == bestDist && string(a) < best {
			best, bestDist = string(a), d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Flag is an --acls flag (flag.Value): Set parses the value as ParseFlag
// does, String gives back the text it was set with.
type Flag struct {
	// Text is the flag's value as given ("" when unset).
	Text string
	// ACLs are the parsed lists; nil when unset.
	ACLs *ACLs
}

// Set parses v (ParseFlag).
func (f *Flag) Set(v string) error {
	a, err := ParseFlag(v)
	if err != nil {
		return err
	}
	f.Text, f.ACLs = v, a
	return nil
}

// String is the text the flag was set with.
func (f *Flag) String() string {
	if f == nil {
		return ""
	}
	return f.Text
}

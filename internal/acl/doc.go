// Package acl is Mezzo's local authorizer: Mesos' access control lists
// (the --acls flag of the master and the agent, the ACLs message of
// Mesos' include/mesos/authorizer/acls.proto) and the rules by which Mesos'
// local authorizer (src/authorizer/local/authorizer.cpp) decides a request
// with them.
//
// # The model
//
// An ACLs document holds, per action ("register_frameworks",
// "run_tasks", "view_frameworks", ...), an ordered list of rules. Each rule
// names its subjects (always the field "principals") and its objects (a
// field named per action: "roles", "users", "framework_principals",
// ...), each an Entity: {"values": [...]} (type SOME), {"type": "ANY"} or
// {"type": "NONE"}. "permissive" (default true) decides requests no rule
// matches.
//
// # Deciding a request
//
// A request has a subject (the principal, or none: an anonymous request
// is treated as Mesos treats a request without a subject, as ANY) and an
// object (one value, or ANY when the action has no particular object).
// The rules are tried in order; the first whose subjects and objects both
// match the request decides it, allowing it only if both allow it:
//
//	request \ rule   SOME        NONE        ANY
//	SOME  matches    subset?     yes         yes
//	      allows     subset?     no          yes
//	NONE  matches    no          yes         no
//	ANY   matches    no          yes         yes
//	      allows     no          no          yes
//
// For the actions whose objects are roles (register_frameworks,
// reserve_resources, create_volumes, resize_volumes, get_quotas,
// update_quotas, view_roles, update_weights and the disk actions), an
// object value "a/%" stands for every role strictly below "a" ("a/b",
// "a/b/c", but not "a" itself), as in Mesos.
//
// An Authorizer is immutable once built and safe for concurrent use; a
// nil *Authorizer (no --acls given) allows everything.
package acl

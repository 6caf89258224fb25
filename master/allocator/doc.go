// Package allocator decides which framework is offered which agent's free
// resources. It is Mezzo's first allocator: weighted-equal dominant
// resource fairness (DRF) between roles and between the frameworks of a
// role, Mesos' offer filters, and suppression. A hierarchical allocator
// with quota and weights replaces it later behind the same methods.
//
// # Contract
//
// An *Allocator is a plain data structure: no goroutines, no I/O, no clock
// reads. The master core owns it and calls it from its one goroutine; time
// enters only as the now argument of the methods that need it. The master
// tells it what changes (agents, frameworks, resources given back) and asks
// it, every allocation interval and promptly after events, for new offers:
//
//	master core                            Allocator
//	AddAgent / RemoveAgent / SetAgentActive  ->  agents' totals
//	AddFramework / UpdateFramework / ...     ->  frameworks' roles, activity
//	Allocate(now)                            <-  []Offer (now allocated)
//	Recover(fw, agent, role, r, refuse, now) ->  resources back to the pool
//	Revive / Suppress                        ->  filters and suppression
//
// Every resource the allocator hands out in an Offer stays allocated to that
// framework and role until the master calls Recover for it (declined,
// rescinded, unused part of an ACCEPT, finished task, removed executor) or
// removes the framework or the agent. So the same resources are never
// offered twice, and allocated never exceeds an agent's total.
//
// Resources passed in and out carry no allocation info (the role travels
// beside them); reservations are part of the resources and decide which
// roles may receive them.
//
// # Fairness
//
// For each agent in turn, roles are ordered by their dominant share (the
// largest fraction of any scalar resource of the cluster allocated to the
// role), then the frameworks of a role by their own dominant share within
// the role; ties go to the role name and to the framework that subscribed
// first. The first framework that is active, not suppressed for the role
// and not filtered receives all of the agent's free resources it may use
// in that role (unreserved plus those reserved to the role), if they reach
// the minimum allocatable amount (0.01 cpus or 32 MB mem, as Mesos'
// --min_allocatable_resources default).
//
// # Filters
//
// Recover with refuse > 0 installs a filter: until now+refuse the
// framework is not offered, on that agent and role, resources contained in
// what it refused. More resources (a finished task's, say) lift the filter
// for that allocation, as in Mesos. Revive removes a framework's filters.
package allocator

// Package allocator decides which framework is offered which agent's free
// resources: hierarchical dominant resource fairness (DRF) across a tree
// of weighted roles, then DRF among the frameworks of each role, with
// quota guarantees and limits, reservations, offer filters, suppression,
// minimum allocatable resources, and Mezzo's decline backoff against
// offer starvation. README.md explains the design, the data structures
// and the no-starvation rules.
//
// # Contract
//
// An *Allocator is a plain data structure: no goroutines, no I/O, no clock
// reads. The master core owns it and calls it from its one goroutine; time
// enters only as the now argument of the methods that need it. The master
// tells it what changes and asks it for offers:
//
//	master core                                Allocator
//	AddAgent / RemoveAgent / SetAgentActive  ->  agents' totals
//	AddFramework / UpdateFramework / ...     ->  frameworks' roles, caps
//	SetWeight / SetQuota                     ->  the role tree
//	Allocate(now)          every interval    <-  []Offer (now allocated)
//	AllocatePending(now)   after events      <-  []Offer for changed agents
//	Recover(fw, agent, role, r, refuse, now) ->  resources back to the pool
//	Decline(...) / Launched(fw, role)        ->  declines and backoff
//	Revive / Suppress                        ->  filters and suppression
//	UpdateAllocation / UpdateAvailable       ->  RESERVE, UNRESERVE,
//	                                             CREATE, DESTROY
//
// Every resource the allocator hands out in an Offer stays allocated to that
// framework and role until the master calls Recover or Decline for it
// (declined, rescinded, unused part of an ACCEPT, finished task, removed
// executor) or removes the framework or the agent. So the same resources
// are never offered twice, and allocated never exceeds an agent's total.
//
// Resources passed in and out carry no allocation info (the role travels
// beside them); reservations are part of the resources and decide which
// roles may receive them: a role may use unreserved resources and those
// reserved for it or an ancestor.
//
// # Fairness
//
// For each agent in turn (by id), the allocator walks the role tree in
// fairness order: at each level the children sorted by weighted dominant
// share (the largest fraction of any scalar resource of the cluster
// allocated to the subtree, divided by the role's weight), a role's own
// frameworks competing as a leaf beside its subroles, as in Mesos; inside
// a leaf the frameworks by their dominant share in that role; ties go to
// the role name and to the framework that subscribed first. The first
// framework that is active, not suppressed, not filtered, allowed by its
// capabilities (GPU agents, revocable, shared, refined reservations) and
// reaching its minimum allocatable resources receives everything on the
// agent it may use, capped by quota. Frameworks in their decline backoff
// come after all eager ones (see README.md).
//
// # Quota
//
// A role's guarantee and limit cover its subtree; consumption is its
// reservations plus its unreserved allocations (Mesos 1.9+). A first pass
// over the agents serves roles with unsatisfied guarantees, up to the
// guarantee; the second, fair pass serves everyone. In both, no offer
// takes a role or an ancestor past a limit, and no offer eats into the
// headroom: the free unreserved resources the unsatisfied guarantees of
// other roles still need stay free.
//
// # Filters
//
// Recover and Decline with refuse > 0 install a filter: until
// now+refuse the framework is not offered, on that agent and role,
// resources contained in what it refused. More resources (a finished
// task's, say) lift the filter for that allocation, as in Mesos. Revive
// removes a framework's filters.
package allocator

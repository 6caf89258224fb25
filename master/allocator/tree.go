package allocator

import (
	"strings"

	"github.com/mezzo-project/mezzo/resources"
)

// vec is an amount of every resource name the allocator has seen, indexed
// by the name's number (Allocator.names). Scalars count by value, ranges
// and sets by how many items they hold (resources.Quantities). A vec
// shorter than the name table holds 0 for the missing names.
type vec []resources.Scalar

func (v *vec) grow(n int) {
	if len(*v) < n {
		*v = append(*v, make(vec, n-len(*v))...)
	}
}

// add adds o to v (sign +1) or subtracts it (sign -1), in place.
func (v *vec) add(o vec, sign resources.Scalar) {
	v.grow(len(o))
	w := *v
	for i, x := range o {
		w[i] += sign * x
	}
}

func (v vec) get(i int) resources.Scalar {
	if i < len(v) {
		return v[i]
	}
	return 0
}

// containsAll reports whether v holds at least o of every name.
func (v vec) containsAll(o vec) bool {
	for i, x := range o {
		if x > v.get(i) {
			return false
		}
	}
	return true
}

// tier groups members of a sorted list before their share decides: eager
// (active and not backed off) before backed off before inactive. A walk
// stops at the first inactive member.
const (
	tierEager    = 0
	tierBackoff  = 1
	tierInactive = 2
)

// key orders the members of one sorted list: tier, then weighted dominant
// share, then the tie-breaker (subscription order for frameworks, name for
// roles).
type key struct {
	tier  int
	share float64
	seq   uint64
	name  string
}

func (k *key) less(o *key) bool {
	if k.tier != o.tier {
		return k.tier < o.tier
	}
	if k.share != o.share {
		return k.share < o.share
	}
	if k.seq != o.seq {
		return k.seq < o.seq
	}
	return k.name < o.name
}

// member is an element of a sorted list: a role node or a client.
type member interface {
	sortKey() *key
}

// sortedList keeps members ordered by key; keys are unique. To change a
// member's key, find its index first (by its current key), change the key,
// then move it: two binary searches and one memmove, no re-sort and no
// allocation, so the cost of a share change is O(log n) comparisons.
type sortedList[T member] struct {
	items []T
}

// find returns the index of m, which must be in the list with its current
// key.
func (l *sortedList[T]) find(m T) int {
	k := m.sortKey()
	lo, hi := 0, len(l.items)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if l.items[mid].sortKey().less(k) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func (l *sortedList[T]) insert(m T) {
	i := l.find(m)
	var zero T
	l.items = append(l.items, zero)
	copy(l.items[i+1:], l.items[i:])
	l.items[i] = m
}

// remove takes m, with its current key, out of the list.
func (l *sortedList[T]) remove(m T) {
	i := l.find(m)
	copy(l.items[i:], l.items[i+1:])
	var zero T
	l.items[len(l.items)-1] = zero
	l.items = l.items[:len(l.items)-1]
}

// move puts the member at index i, whose key changed, in its place.
func (l *sortedList[T]) move(i int) {
	m := l.items[i]
	k := m.sortKey()
	switch {
	case i+1 < len(l.items) && l.items[i+1].sortKey().less(k):
		// Moves right: find the first item after i not less than k.
		lo, hi := i+1, len(l.items)
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if l.items[mid].sortKey().less(k) {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		copy(l.items[i:lo-1], l.items[i+1:lo])
		l.items[lo-1] = m
	case i > 0 && k.less(l.items[i-1].sortKey()):
		lo, hi := 0, i
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if l.items[mid].sortKey().less(k) {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		copy(l.items[lo+1:i+1], l.items[lo:i])
		l.items[lo] = m
	}
}

// node is a role in the role tree, or the leaf that holds a role's
// frameworks. Role "a/b" is the child "b" of "a"; the frameworks
// subscribed to "a/b" live in the leaf child "." of "a/b", which competes
// with the subroles of "a/b" as Mesos' virtual leaves do. Every amount
// covers the node's subtree.
type node struct {
	name   string // role name; a leaf carries its role's name
	leaf   bool
	parent *node
	kids   map[string]*node // by last path component; "." is the leaf
	// children are the internal node's kids in fairness order; clients the
	// leaf's frameworks in fairness order.
	children sortedList[*node]
	clients  sortedList[*client]

	weight float64
	quota  *quota

	alloc      vec // allocated (offered or used), all resources
	allocUnres vec // allocated unreserved resources
	reserved   vec // reserved for the subtree on the agents (allocated or not)

	guarantees int // nodes with a guarantee in the subtree, this one included
	active     int // active clients in the subtree
	eager      int // active clients not backed off
	k          key
}

func (n *node) sortKey() *key { return &n.k }

// quota is a role's guarantee and limit, per name; hasLimit says which
// names have a limit (a missing limit is no limit).
type quota struct {
	guarantee vec
	limit     vec
	hasLimit  []bool
	hasGuar   []bool
}

func (q *quota) limitOf(i int) (resources.Scalar, bool) {
	if q == nil || i >= len(q.hasLimit) || !q.hasLimit[i] {
		return 0, false
	}
	return q.limit[i], true
}

func (q *quota) guaranteeOf(i int) (resources.Scalar, bool) {
	if q == nil || i >= len(q.hasGuar) || !q.hasGuar[i] {
		return 0, false
	}
	return q.guarantee[i], true
}

func (q *quota) hasGuarantee() bool {
	if q == nil {
		return false
	}
	for _, g := range q.hasGuar {
		if g {
			return true
		}
	}
	return false
}

// consumed is what counts against the node's quota: its reservations plus
// its unreserved allocations (Mesos 1.9+ quota consumption).
func (n *node) consumed(i int) resources.Scalar {
	return n.reserved.get(i) + n.allocUnres.get(i)
}

// unsatisfied is how much of name i the node's guarantee still lacks.
func (n *node) unsatisfied(i int) resources.Scalar {
	g, ok := n.quota.guaranteeOf(i)
	if !ok {
		return 0
	}
	if c := n.consumed(i); c < g {
		return g - c
	}
	return 0
}

func (n *node) tier() int {
	switch {
	case n.active == 0:
		return tierInactive
	case n.eager == 0:
		return tierBackoff
	}
	return tierEager
}

// role returns the node of role (creating the path to it).
func (a *Allocator) role(name string) *node {
	if n, ok := a.roles[name]; ok {
		return n
	}
	parent := a.root
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		parent = a.role(name[:i])
	}
	n := &node{name: name, parent: parent, weight: 1, kids: map[string]*node{}}
	n.k = key{tier: tierInactive, name: name}
	parent.kids[name] = n
	parent.children.insert(n)
	a.roles[name] = n
	if w, ok := a.weights[name]; ok {
		n.weight = w
	}
	return n
}

// leafOf returns the leaf that holds role's frameworks.
func (a *Allocator) leafOf(name string) *node {
	r := a.role(name)
	if l, ok := r.kids["."]; ok {
		return l
	}
	l := &node{name: name, leaf: true, parent: r, weight: 1}
	l.k = key{tier: tierInactive, name: name + "/."}
	r.kids["."] = l
	r.children.insert(l)
	return l
}

// roleOf returns the role node above a leaf (the node itself otherwise).
func roleOf(n *node) *node {
	if n.leaf {
		return n.parent
	}
	return n
}

// share is the weighted dominant share of alloc.
func (a *Allocator) share(alloc vec, weight float64) float64 {
	s := 0.0
	for i, x := range alloc {
		if x <= 0 || i >= len(a.total) {
			continue
		}
		if t := a.total[i]; t > 0 {
			if f := float64(x) / float64(t); f > s {
				s = f
			}
		}
	}
	if weight > 0 {
		s /= weight
	}
	return s
}

// refreshNode recomputes n's key and moves it in its parent's list.
func (a *Allocator) refreshNode(n *node) {
	if n.parent == nil {
		return
	}
	l := &n.parent.children
	i := l.find(n)
	n.k.tier = n.tier()
	n.k.share = a.share(n.alloc, n.weight)
	l.move(i)
}

// bookPath adds (sign +1) or removes (sign -1) an allocation to the leaf
// and every node above it, keeping each list ordered.
func (a *Allocator) bookPath(leaf *node, all, unres vec, sign resources.Scalar) {
	for n := leaf; n.parent != nil; n = n.parent {
		l := &n.parent.children
		i := l.find(n)
		n.alloc.add(all, sign)
		n.allocUnres.add(unres, sign)
		n.k.tier = n.tier()
		n.k.share = a.share(n.alloc, n.weight)
		l.move(i)
	}
}

// countPath changes the active and eager client counts above a leaf.
func (a *Allocator) countPath(leaf *node, active, eager int) {
	for n := leaf; n.parent != nil; n = n.parent {
		l := &n.parent.children
		i := l.find(n)
		n.active += active
		n.eager += eager
		n.k.tier = n.tier()
		l.move(i)
	}
}

// resortAll recomputes every share and re-sorts every list; used after
// the cluster's total changed, which changes every share at once.
func (a *Allocator) resortAll(n *node) {
	for _, c := range n.children.items {
		a.resortAll(c)
		c.k.tier = c.tier()
		c.k.share = a.share(c.alloc, c.weight)
	}
	for _, c := range n.clients.items {
		c.k.share = a.share(c.alloc, 1)
	}
	sortMembers(n.children.items)
	sortMembers(n.clients.items)
}

func sortMembers[T member](items []T) {
	// Insertion sort: lists are nearly sorted when totals change a little.
	for i := 1; i < len(items); i++ {
		m := items[i]
		k := m.sortKey()
		j := i
		for j > 0 && k.less(items[j-1].sortKey()) {
			items[j] = items[j-1]
			j--
		}
		items[j] = m
	}
}

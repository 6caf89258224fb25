package resources

import (
	"iter"
	"slices"
	"strings"
)

// Quantity is an amount of resources of one name.
type Quantity struct {
	Name  string
	Value Scalar
}

// Quantities maps resource names to amounts, with no other metadata: the
// currency of DRF shares, quota and guarantees (Mesos'
// ResourceQuantities). It holds only positive amounts; a name not present
// has quantity 0. The zero value is empty and ready to use.
//
// Like Resources, a Quantities value is immutable: methods return new
// values.
type Quantities struct {
	q []Quantity // sorted by Name, every Value > 0
}

// NewQuantities returns the sum of qs; quantities of one name add up and
// names whose total is not positive are left out.
func NewQuantities(qs ...Quantity) Quantities {
	q := slices.Clone(qs)
	slices.SortStableFunc(q, func(a, b Quantity) int { return strings.Compare(a.Name, b.Name) })
	out := q[:0]
	for _, x := range q {
		if n := len(out); n > 0 && out[n-1].Name == x.Name {
			out[n-1].Value = out[n-1].Value.Add(x.Value)
			continue
		}
		out = append(out, x)
	}
	return Quantities{q: positive(out)}
}

// positive drops the entries that are not positive, in place.
func positive(q []Quantity) []Quantity {
	q = slices.DeleteFunc(q, func(x Quantity) bool { return x.Value <= 0 })
	if len(q) == 0 {
		return nil
	}
	return q
}

// Get returns the quantity of name, 0 if absent.
func (q Quantities) Get(name string) Scalar {
	i, ok := slices.BinarySearchFunc(q.q, name, func(x Quantity, name string) int {
		return strings.Compare(x.Name, name)
	})
	if !ok {
		return 0
	}
	return q.q[i].Value
}

// Len returns the number of names with a positive quantity.
func (q Quantities) Len() int { return len(q.q) }

// IsEmpty reports whether q holds nothing.
func (q Quantities) IsEmpty() bool { return len(q.q) == 0 }

// All yields each name and its quantity, by name.
func (q Quantities) All() iter.Seq2[string, Scalar] {
	return func(yield func(string, Scalar) bool) {
		for _, x := range q.q {
			if !yield(x.Name, x.Value) {
				return
			}
		}
	}
}

// Add returns q + o.
func (q Quantities) Add(o Quantities) Quantities {
	switch {
	case len(o.q) == 0:
		return q
	case len(q.q) == 0:
		return o
	}
	out := make([]Quantity, 0, len(q.q)+len(o.q))
	i, j := 0, 0
	for i < len(q.q) && j < len(o.q) {
		a, b := q.q[i], o.q[j]
		switch c := strings.Compare(a.Name, b.Name); {
		case c < 0:
			out = append(out, a)
			i++
		case c > 0:
			out = append(out, b)
			j++
		default:
			out = append(out, Quantity{a.Name, a.Value.Add(b.Value)})
			i++
			j++
		}
	}
	out = append(out, q.q[i:]...)
	out = append(out, o.q[j:]...)
	return Quantities{q: out}
}

// Subtract returns q − o; names that would reach zero or below are
// dropped, so the result is never negative.
func (q Quantities) Subtract(o Quantities) Quantities {
	if len(o.q) == 0 || len(q.q) == 0 {
		return q
	}
	out := make([]Quantity, 0, len(q.q))
	j := 0
	for _, a := range q.q {
		for j < len(o.q) && o.q[j].Name < a.Name {
			j++
		}
		if j < len(o.q) && o.q[j].Name == a.Name {
			a.Value = a.Value.Sub(o.q[j].Value)
		}
		if a.Value > 0 {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return Quantities{}
	}
	return Quantities{q: out}
}

// Contains reports whether q holds at least o's quantity of every name.
func (q Quantities) Contains(o Quantities) bool {
	i := 0
	for _, b := range o.q {
		for i < len(q.q) && q.q[i].Name < b.Name {
			i++
		}
		if i == len(q.q) || q.q[i].Name != b.Name || q.q[i].Value < b.Value {
			return false
		}
	}
	return true
}

// Equal reports whether q and o hold the same quantities.
func (q Quantities) Equal(o Quantities) bool { return slices.Equal(q.q, o.q) }

// String formats q as "cpus:1.5;mem:512", the form ParseQuantities reads,
// or "{}" when empty.
func (q Quantities) String() string {
	if len(q.q) == 0 {
		return "{}"
	}
	var b []byte
	for i, x := range q.q {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, x.Name...)
		b = append(b, ':')
		b = x.Value.appendText(b)
	}
	return string(b)
}

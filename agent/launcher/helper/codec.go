package helper

import (
	"errors"
)

// The request's encoding: a version byte, then the fields in the order
// of the structs, a string as its length (uvarint) and bytes, a number
// as a uvarint, a bool or the presence of a pointer as one byte (0 or
// 1), a signed number (an rlimit's resource) as a varint, a list as its
// length plus one (0: nil) and its entries. It takes the place of JSON,
// whose package the helper does without (see sys.go).

// requestVersion is the encoding's first byte.
const requestVersion = 1

// EncodeRequest encodes req for the helper (DecodeRequest).
func EncodeRequest(req *Request) []byte {
	var e encoder
	e.b = append(e.b, requestVersion)
	e.str(req.Path)
	e.strs(req.Argv)
	e.strs(req.Env)
	e.str(req.Dir)
	e.uint(uint64(req.Namespaces))
	e.list(req.Mounts == nil, len(req.Mounts))
	for _, m := range req.Mounts {
		e.str(m.Source)
		e.str(m.Target)
		e.str(m.Type)
		e.bool(m.ReadOnly)
		e.str(m.Data)
	}
	if e.bool(req.User != nil) {
		u := req.User
		e.str(u.Name)
		e.uint(uint64(u.UID))
		e.uint(uint64(u.GID))
		e.list(u.Groups == nil, len(u.Groups))
		for _, g := range u.Groups {
			e.uint(uint64(g))
		}
		e.str(u.Home)
	}
	e.list(req.Rlimits == nil, len(req.Rlimits))
	for _, r := range req.Rlimits {
		e.int(int64(r.Resource))
		e.uint(r.Soft)
		e.uint(r.Hard)
	}
	if e.bool(req.Capabilities != nil) {
		e.strs(req.Capabilities.Bounding)
		e.strs(req.Capabilities.Effective)
	}
	e.bool(req.DieWithParent)
	if e.bool(req.Rootfs != nil) {
		r := req.Rootfs
		e.str(r.Dir)
		e.str(r.Overlay)
		e.str(r.Sandbox)
		e.bool(r.HostExecutable)
	}
	return e.b
}

// DecodeRequest decodes what EncodeRequest encoded; an error for
// anything else (truncated, trailing bytes, another version).
func DecodeRequest(b []byte) (*Request, error) {
	if len(b) == 0 || b[0] != requestVersion {
		return nil, errors.New("not a request of this version")
	}
	d := decoder{b: b[1:]}
	req := &Request{}
	req.Path = d.str()
	req.Argv = d.strs()
	req.Env = d.strs()
	req.Dir = d.str()
	req.Namespaces = uintptr(d.uint())
	if n, ok := d.list(); ok {
		req.Mounts = make([]Mount, n)
		for i := range req.Mounts {
			m := &req.Mounts[i]
			m.Source, m.Target, m.Type = d.str(), d.str(), d.str()
			m.ReadOnly = d.bool()
			m.Data = d.str()
		}
	}
	if d.bool() {
		u := &User{}
		u.Name = d.str()
		u.UID, u.GID = d.uint32(), d.uint32()
		if n, ok := d.list(); ok {
			u.Groups = make([]uint32, n)
			for i := range u.Groups {
				u.Groups[i] = d.uint32()
			}
		}
		u.Home = d.str()
		req.User = u
	}
	if n, ok := d.list(); ok {
		req.Rlimits = make([]Rlimit, n)
		for i := range req.Rlimits {
			r := &req.Rlimits[i]
			r.Resource = d.int()
			r.Soft, r.Hard = d.uint(), d.uint()
		}
	}
	if d.bool() {
		req.Capabilities = &Capabilities{Bounding: d.strs(), Effective: d.strs()}
	}
	req.DieWithParent = d.bool()
	if d.bool() {
		r := &Rootfs{}
		r.Dir, r.Overlay, r.Sandbox = d.str(), d.str(), d.str()
		r.HostExecutable = d.bool()
		req.Rootfs = r
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = errorf("%d bytes after the request", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return req, nil
}

type encoder struct{ b []byte }

func (e *encoder) uint(v uint64) { e.b = appendUvarint(e.b, v) }

func (e *encoder) int(v int64) { e.b = appendVarint(e.b, v) }

func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// list writes a list's length (isNil: a nil list).
func (e *encoder) list(isNil bool, n int) {
	if isNil {
		e.uint(0)
		return
	}
	e.uint(uint64(n) + 1)
}

func (e *encoder) strs(ss []string) {
	e.list(ss == nil, len(ss))
	for _, s := range ss {
		e.str(s)
	}
}

// bool writes v and returns it.
func (e *encoder) bool(v bool) bool {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
	return v
}

// decoder reads what encoder wrote; after the first error (kept in err)
// it reads zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = errorf("truncated or malformed request (%s)", what)
	}
	d.b = nil
}

func (d *decoder) uint() uint64 {
	v, n := uvarint(d.b)
	if n <= 0 {
		d.fail("number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int {
	v, n := varint(d.b)
	if n <= 0 || int64(int(v)) != v {
		d.fail("number")
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

func (d *decoder) uint32() uint32 {
	v := d.uint()
	if v > 1<<32-1 {
		d.fail("32-bit number")
		return 0
	}
	return uint32(v)
}

func (d *decoder) str() string {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail("string")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// list reads a list's length; false for a nil list. Every entry takes
// at least a byte, so a length beyond what is left is malformed (and
// allocates nothing).
func (d *decoder) list() (int, bool) {
	n := d.uint()
	if n == 0 {
		return 0, false
	}
	if n-1 > uint64(len(d.b)) {
		d.fail("list")
		return 0, false
	}
	return int(n - 1), true
}

func (d *decoder) strs() []string {
	n, ok := d.list()
	if !ok {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func (d *decoder) bool() bool {
	if len(d.b) == 0 || d.b[0] > 1 {
		d.fail("bool")
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

package legacy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"unicode/utf8"

	"github.com/mezzo-project/mezzo/api/v1/codec"
)

// Marshal encodes v the way Mesos writes its JSON documents: compact, no
// trailing newline, and without encoding/json's HTML escaping (Mesos writes
// <, > and & as they are). Use it, rather than json.Marshal, when serving a
// document; json.Marshal gives the same JSON values with <, > and & escaped.
func Marshal(v any) ([]byte, error) {
	return marshalNoEscape(v)
}

// Write answers an HTTP request with the document v as Mesos serves its
// JSON endpoints: application/json, or JavaScript calling the function
// named by the "jsonp" query parameter when there is one.
func Write(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := Marshal(v)
	if err != nil {
		return err
	}
	return WriteEncoded(w, r, b)
}

// WriteEncoded is Write for a document already encoded by Marshal (b), so
// that one encoding can answer many requests.
func WriteEncoded(w http.ResponseWriter, r *http.Request, b []byte) error {
	if cb := r.URL.Query().Get("jsonp"); cb != "" {
		w.Header().Set("Content-Type", "text/javascript")
		w.WriteHeader(http.StatusOK)
		_, err := w.Write([]byte(cb + "(" + string(b) + ");"))
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	return err
}

// marshalNoEscape is json.Marshal without HTML escaping. Every MarshalJSON
// in this package encodes its parts through it, so that Marshal's output has
// no escaping at any depth.
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// Float is a number Mesos writes as a double: times in seconds since the
// epoch, resource amounts, counters taken from gauges, metric values. It
// encodes in Mesos' number form, the shortest decimal that reads back to the
// same value with ".0" on whole values (1.0, 0.1, 1795326125.585411), so a
// document reads as Mesos' does. NaN and infinities cannot be encoded.
type Float float64

// MarshalJSON writes f in Mesos' number form.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("legacy: %v cannot be written as JSON", v)
	}
	return codec.AppendFloat(nil, v, 64), nil
}

// List is a JSON array that Mesos always writes, even when it is empty: a
// nil List encodes as [] where a nil slice would encode as null. Arrays that
// Mesos leaves out when empty are plain slices with omitempty (or omitzero,
// where Mesos writes the key when the field is set but empty).
type List[T any] []T

// MarshalJSON writes l as an array, [] when l is nil.
func (l List[T]) MarshalJSON() ([]byte, error) {
	if l == nil {
		return []byte("[]"), nil
	}
	return marshalNoEscape([]T(l))
}

// ProtoJSON is one protobuf message written by Mesos' generic protobuf to
// JSON writer, kept verbatim: keys are the .proto field names, fields in
// .proto order (sorted by name inside /monitor/statistics), unset fields
// with a default written with that default (the mapping package codec
// implements for the v1 messages). Decode it with
// codec.Unmarshal(codec.JSON, ...) into the v1 message each field names, and
// fill it with codec.Marshal.
//
// This package keeps a message verbatim when it is large or open-ended
// (Resource with its reservations and disk info, ContainerInfo, HealthCheck,
// CgroupInfo, OfferConstraints, resource providers): modelling those here
// would duplicate the v1 messages and drift from them, and verbatim bytes
// round-trip exactly. A nil ProtoJSON encodes as {}, the empty message;
// fields holding an optional message use omitempty so nil leaves them out.
type ProtoJSON []byte

// MarshalJSON writes m as it is, {} when m is empty.
func (m ProtoJSON) MarshalJSON() ([]byte, error) {
	if len(m) == 0 {
		return []byte("{}"), nil
	}
	return m, nil
}

// UnmarshalJSON keeps a copy of data, which must be a JSON object (null
// leaves m empty).
func (m *ProtoJSON) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		*m = nil
		return nil
	}
	if len(data) == 0 || data[0] != '{' {
		return fmt.Errorf("legacy: protobuf message: expected a JSON object, got %.20q", data)
	}
	*m = append((*m)[:0], data...)
	return nil
}

// Flags is a process' command-line flags, name to value as a string
// ("15secs", "true", "cpus:0.01|mem:32"), as /master/flags, /flags and the
// state documents carry them. It encodes with keys sorted, as Mesos writes
// them; a nil Flags encodes as {}.
type Flags map[string]string

// MarshalJSON writes f with sorted keys, {} when f is nil.
func (f Flags) MarshalJSON() ([]byte, error) { return marshalMap(map[string]string(f)) }

// Quantities maps resource names to amounts, sorted by name, as Mesos
// writes its ResourceQuantities and ResourceLimits: the /master/roles
// breakdowns and quota, and a task's limits. Unlike Resources, non-scalar
// resources appear as counts (ports: 1001.0) and no name is implied. A nil
// Quantities encodes as {}.
type Quantities map[string]Float

// MarshalJSON writes q with sorted keys, {} when q is nil.
func (q Quantities) MarshalJSON() ([]byte, error) { return marshalMap(map[string]Float(q)) }

// Metrics is the /metrics/snapshot document of a master or an agent: every
// metric's name ("master/tasks_running", "slave/mem_used",
// "allocator/mesos/allocation_run_ms/p99") to its value. Counters, gauges
// and timer statistics are all written as doubles. It encodes with keys
// sorted, as Mesos writes them; a nil Metrics encodes as {}.
type Metrics map[string]Float

// MarshalJSON writes m with sorted keys, {} when m is nil.
func (m Metrics) MarshalJSON() ([]byte, error) { return marshalMap(map[string]Float(m)) }

// marshalMap writes m as an object with sorted keys (encoding/json sorts map
// keys byte-wise, as Mesos' std::map does), {} when m is nil.
func marshalMap[V any](m map[string]V) ([]byte, error) {
	if m == nil {
		return []byte("{}"), nil
	}
	return marshalNoEscape(m)
}

// appendString appends s as a JSON string, escaped as encoding/json escapes
// it with HTML escaping off: quote, backslash and control characters are
// escaped, invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

package codec

import (
	"fmt"
	"mime"
	"strings"

	"google.golang.org/protobuf/proto"
)

// Media types of the two encodings, spelled exactly as Mesos compares them.
const (
	MediaJSON     = "application/json"
	MediaProtobuf = "application/x-protobuf"
	// MediaRecordIO labels streaming request and response bodies of the
	// agent operator API.
	MediaRecordIO = "application/recordio"
)

// Format is one of the two encodings of a message.
type Format int

const (
	// JSON is Mesos' JSON mapping.
	JSON Format = iota
	// Protobuf is the protobuf binary encoding.
	Protobuf
)

// MediaType returns the media type that names f on the wire.
func (f Format) MediaType() string {
	if f == Protobuf {
		return MediaProtobuf
	}
	return MediaJSON
}

// String returns "json" or "protobuf".
func (f Format) String() string {
	if f == Protobuf {
		return "protobuf"
	}
	return "json"
}

// Marshal encodes m in format f.
func Marshal(f Format, m proto.Message) ([]byte, error) {
	if f == Protobuf {
		b, err := proto.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("encode %s as protobuf: %w", m.ProtoReflect().Descriptor().FullName(), err)
		}
		return b, nil
	}
	b, err := MarshalJSON(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s as JSON: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return b, nil
}

// Unmarshal decodes data in format f into m. Errors for bad input wrap
// ErrMalformed.
func Unmarshal(f Format, data []byte, m proto.Message) error {
	if f == Protobuf {
		return UnmarshalProto(data, m)
	}
	return UnmarshalJSON(data, m)
}

// UnmarshalProto decodes protobuf binary data into m; a missing required
// field or a malformed encoding is a *DecodeError.
func UnmarshalProto(data []byte, m proto.Message) error {
	if err := proto.Unmarshal(data, m); err != nil {
		msg := err.Error()
		if strings.Contains(msg, "required field") {
			msg = missingRequired(err)
		} else {
			msg = "invalid protobuf: " + strings.TrimPrefix(msg, "proto: ")
		}
		return &DecodeError{Problem: msg}
	}
	return nil
}

// FormatOf returns the format a Content-Type header names. Mesos compares
// the header byte for byte, so parameters such as "; charset=utf-8" make it
// unsupported here too.
func FormatOf(contentType string) (Format, bool) {
	switch contentType {
	case MediaJSON:
		return JSON, true
	case MediaProtobuf:
		return Protobuf, true
	}
	return JSON, false
}

// Negotiate picks the response format for an Accept header the way Mesos
// does: no header means JSON; JSON wins whenever the header accepts it
// (application/json, application/* or */* with a non-zero q), then
// protobuf; ok is false when neither is acceptable (HTTP 406).
func Negotiate(accept string) (f Format, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return JSON, true
	}
	if accepts(accept, MediaJSON) {
		return JSON, true
	}
	if accepts(accept, MediaProtobuf) {
		return Protobuf, true
	}
	return JSON, false
}

// accepts reports whether an Accept header allows mediaType.
func accepts(accept, mediaType string) bool {
	typ, _, _ := strings.Cut(mediaType, "/")
	for _, part := range strings.Split(accept, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			mt, _, _ = strings.Cut(part, ";")
			mt = strings.ToLower(strings.TrimSpace(mt))
			params = nil
		}
		if q, ok := params["q"]; ok {
			if isZeroQ(q) {
				continue
			}
		}
		if mt == mediaType || mt == typ+"/*" || mt == "*/*" {
			return true
		}
	}
	return false
}

func isZeroQ(q string) bool {
	q = strings.TrimSpace(q)
	if q == "" {
		return false
	}
	for _, c := range q {
		if c != '0' && c != '.' {
			return false
		}
	}
	return true
}

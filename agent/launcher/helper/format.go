package helper

import "strconv"

// Error formatting and byte orders without fmt and encoding/binary,
// which import reflect and through it unicode: Go initializes unicode
// only after the binary's packages whose paths sort before it, which
// would hold the helper's start behind them (see init).

// errorf formats like fmt.Errorf for what the helper formats: %s and %v
// (strings, errors, integers, lists of strings or numbers), %q
// (strings), %d (integers) and %w (an error, which the result wraps).
func errorf(format string, args ...any) error {
	var b []byte
	var wrapped error
	next := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b = append(b, c)
			continue
		}
		i++
		verb := format[i]
		if verb == '%' {
			b = append(b, '%')
			continue
		}
		if next == len(args) {
			b = append(b, "%!"...)
			b = append(b, verb)
			b = append(b, "(MISSING)"...)
			continue
		}
		arg := args[next]
		next++
		if e, ok := arg.(error); ok && verb == 'w' {
			wrapped = e
		}
		b = appendArg(b, verb, arg)
	}
	return &formattedError{msg: string(b), wrapped: wrapped}
}

// formattedError is errorf's error.
type formattedError struct {
	msg     string
	wrapped error
}

func (e *formattedError) Error() string { return e.msg }
func (e *formattedError) Unwrap() error { return e.wrapped }

// appendArg appends arg as fmt would with verb.
func appendArg(b []byte, verb byte, arg any) []byte {
	switch v := arg.(type) {
	case string:
		if verb == 'q' {
			return strconv.AppendQuote(b, v)
		}
		return append(b, v...)
	case error:
		if verb == 'q' {
			return strconv.AppendQuote(b, v.Error())
		}
		return append(b, v.Error()...)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint64:
		return strconv.AppendUint(b, v, 10)
	case []string:
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendArg(b, verb, s)
		}
		return append(b, ']')
	case []uint32:
		b = append(b, '[')
		for i, n := range v {
			if i > 0 {
				b = append(b, ' ')
			}
			b = strconv.AppendUint(b, uint64(n), 10)
		}
		return append(b, ']')
	}
	return append(b, "%!(unsupported)"...)
}

// bigEndianUint32 reads a 4-byte big-endian number.
func bigEndianUint32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// putBigEndianUint32 writes v as 4 big-endian bytes.
func putBigEndianUint32(b []byte, v uint32) {
	_ = b[3]
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// appendUvarint appends v in the encoding of encoding/binary's
// AppendUvarint (7 bits a byte, low first, the high bit for "more").
func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// uvarint decodes what appendUvarint encoded, as encoding/binary's
// Uvarint: the value and the bytes read; n == 0 when b is too short, n <
// 0 when the value overflows 64 bits.
func uvarint(b []byte) (uint64, int) {
	var v uint64
	var shift uint
	for i, c := range b {
		if i == 10 {
			return 0, -(i + 1)
		}
		if c < 0x80 {
			if i == 9 && c > 1 {
				return 0, -(i + 1)
			}
			return v | uint64(c)<<shift, i + 1
		}
		v |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

// appendVarint appends a signed v zig-zag encoded, as encoding/binary's
// AppendVarint.
func appendVarint(b []byte, v int64) []byte {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return appendUvarint(b, u)
}

// varint decodes what appendVarint encoded, as encoding/binary's Varint.
func varint(b []byte) (int64, int) {
	u, n := uvarint(b)
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v, n
}

// Package recordio implements the RecordIO framing that Mesos uses for its
// streaming HTTP responses (the scheduler and executor event streams, the
// operator SUBSCRIBE stream) and for streaming request bodies.
//
// A stream is a sequence of records; each record is the payload's length in
// bytes as unsigned decimal ASCII digits, one line feed, then the payload:
//
//	12\n{"type":"X"}5\nhello
//
// Nothing separates a payload from the next record's length. The Writer
// emits exactly that. The Reader accepts what Mesos and the common clients
// emit, tolerates blanks around the length as mesos-go does, skips
// zero-length records, and refuses records larger than its configured
// maximum before allocating anything for them, so a hostile length prefix
// cannot make a reader allocate gigabytes.
package recordio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// DefaultMaxRecordSize is the largest record a Reader accepts unless told
// otherwise: 64 MiB, enough for an operator SUBSCRIBED snapshot of a large
// cluster while keeping a bogus prefix from exhausting memory.
const DefaultMaxRecordSize = 64 << 20

// maxLengthDigits bounds the length prefix: 20 digits hold any uint64.
const maxLengthDigits = 20

// ErrRecordTooLarge is returned (wrapped) by Reader.Read when a record's
// length prefix exceeds the reader's maximum.
var ErrRecordTooLarge = errors.New("recordio: record exceeds maximum size")

// ErrBadLength is returned (wrapped) by Reader.Read when a length prefix is
// not a decimal number.
var ErrBadLength = errors.New("recordio: malformed record length")

// Writer frames records onto an io.Writer. It is not safe for concurrent use.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer that frames records onto w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// Write frames p as one record and writes it with a single call to the
// underlying writer, so a record is never split between two writes.
func (w *Writer) Write(p []byte) error {
	w.buf = strconv.AppendUint(w.buf[:0], uint64(len(p)), 10)
	w.buf = append(w.buf, '\n')
	w.buf = append(w.buf, p...)
	if _, err := w.w.Write(w.buf); err != nil {
		return fmt.Errorf("recordio: write record of %d bytes: %w", len(p), err)
	}
	return nil
}

// Frame returns p framed as one record.
func Frame(p []byte) []byte {
	out := strconv.AppendUint(make([]byte, 0, len(p)+8), uint64(len(p)), 10)
	out = append(out, '\n')
	return append(out, p...)
}

// Reader reads records from a stream. It is not safe for concurrent use.
type Reader struct {
	r   *bufio.Reader
	max int
}

// NewReader returns a Reader of r that refuses records larger than max
// bytes; max <= 0 means DefaultMaxRecordSize.
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxRecordSize
	}
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 32<<10)
	}
	return &Reader{r: br, max: max}
}

// Read returns the next record's payload. At a clean end of stream (between
// records) it returns io.EOF; a stream cut inside a record gives
// io.ErrUnexpectedEOF. The returned slice is owned by the caller.
func (r *Reader) Read() ([]byte, error) {
	for {
		n, err := r.readLength()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			continue
		}
		if n > uint64(r.max) {
			return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrRecordTooLarge, n, r.max)
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(r.r, p); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("recordio: read %d-byte record: %w", n, err)
		}
		return p, nil
	}
}

// readLength reads one length line. Blanks around the digits are ignored.
func (r *Reader) readLength() (uint64, error) {
	var (
		digits  [maxLengthDigits]byte
		nd      int
		started bool // a non-blank byte was seen
		ended   bool // blanks followed the digits
	)
	for {
		c, err := r.r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if !started {
					return 0, io.EOF
				}
				return 0, fmt.Errorf("recordio: stream ended inside a length prefix: %w", io.ErrUnexpectedEOF)
			}
			return 0, fmt.Errorf("recordio: read length: %w", err)
		}
		switch {
		case c == '\n':
			if nd == 0 {
				if started {
					return 0, fmt.Errorf("%w: empty length", ErrBadLength)
				}
				continue // a blank line between records
			}
			n, err := strconv.ParseUint(string(digits[:nd]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%w: %q", ErrBadLength, digits[:nd])
			}
			return n, nil
		case c == ' ' || c == '\t' || c == '\r':
			if nd > 0 {
				ended = true
			}
		case c >= '0' && c <= '9':
			started = true
			if ended {
				return 0, fmt.Errorf("%w: blank inside the digits", ErrBadLength)
			}
			if nd == maxLengthDigits {
				return 0, fmt.Errorf("%w: more than %d digits", ErrBadLength, maxLengthDigits)
			}
			digits[nd] = c
			nd++
		default:
			return 0, fmt.Errorf("%w: unexpected byte %q", ErrBadLength, c)
		}
	}
}

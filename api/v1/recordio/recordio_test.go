package recordio

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"strings"
	"testing"
)

func TestWriterFramesExactly(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, p := range []string{`{"type":"HEARTBEAT"}`, "hello", ""} {
		if err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	want := "20\n{\"type\":\"HEARTBEAT\"}5\nhello0\n"
	if got := buf.String(); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := string(Frame([]byte("abc"))); got != "3\nabc" {
		t.Fatalf("Frame: got %q", got)
	}
}

func TestReaderRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var want [][]byte
	for i := 0; i < 200; i++ {
		p := make([]byte, 1+rng.Intn(5000))
		rng.Read(p)
		want = append(want, p)
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	// Deliver the stream in random small pieces, as chunked HTTP does.
	r := NewReader(&choppy{data: buf.Bytes(), rng: rng}, 0)
	for i, p := range want {
		got, err := r.Read()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !bytes.Equal(got, p) {
			t.Fatalf("record %d differs", i)
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Fatalf("at end: got %v, want io.EOF", err)
	}
}

type choppy struct {
	data []byte
	rng  *rand.Rand
}

func (c *choppy) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := 1 + c.rng.Intn(7)
	if n > len(p) {
		n = len(p)
	}
	if n > len(c.data) {
		n = len(c.data)
	}
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func TestReaderLenientAndStrict(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    []string
		wantErr error
	}{
		{name: "blanks around length", in: " 3 \nabc\n2\nde", want: []string{"abc", "de"}},
		{name: "zero-length skipped", in: "0\n3\nabc", want: []string{"abc"}},
		{name: "crlf", in: "3\r\nabc", want: []string{"abc"}},
		{name: "letters", in: "x3\nabc", wantErr: ErrBadLength},
		{name: "negative", in: "-3\nabc", wantErr: ErrBadLength},
		{name: "digits split by blank", in: "1 2\nabc", wantErr: ErrBadLength},
		{name: "too many digits", in: strings.Repeat("9", 21) + "\n", wantErr: ErrBadLength},
		{name: "overflow", in: "99999999999999999999\n", wantErr: ErrBadLength},
		{name: "hostile size", in: "18446744073709551615\nabc", wantErr: ErrRecordTooLarge},
		{name: "over limit", in: "1025\n", wantErr: ErrRecordTooLarge},
		{name: "cut in payload", in: "10\nabc", wantErr: io.ErrUnexpectedEOF},
		{name: "cut in length", in: "3\nabc12", wantErr: io.ErrUnexpectedEOF, want: []string{"abc"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tc.in), 1024)
			var got []string
			var err error
			for {
				var p []byte
				p, err = r.Read()
				if err != nil {
					break
				}
				got = append(got, string(p))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("records: got %q, want %q", got, tc.want)
			}
			if tc.wantErr == nil {
				if err != io.EOF {
					t.Errorf("end: got %v, want io.EOF", err)
				}
			} else if !errors.Is(err, tc.wantErr) {
				t.Errorf("error: got %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("3\nabc5\nhello"))
	f.Add([]byte("0\n"))
	f.Add([]byte("99999999999999999999999\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), 4096)
		var total int
		for i := 0; i < len(data)+1; i++ {
			p, err := r.Read()
			if err != nil {
				return
			}
			if len(p) > 4096 {
				t.Fatalf("record of %d bytes exceeds the limit", len(p))
			}
			total += len(p)
			if total > len(data) {
				t.Fatalf("read %d payload bytes from %d input bytes", total, len(data))
			}
		}
	})
}

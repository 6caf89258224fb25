package v0test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/mezzo-project/mezzo/api/v0/messages"
	schedv0 "github.com/mezzo-project/mezzo/api/v0/scheduler"
)

// Entry is one libprocess message of a recorded session, as the
// transcripts of testdata/ show it in full.
type Entry struct {
	// Seq is the message's number in the capture ("=== #Seq").
	Seq int
	// From and To are the sender's and the receiver's pids.
	From, To string
	// Name is the message's type (the last path component).
	Name string
	// Body is the message's protobuf bytes (empty for empty messages).
	Body []byte
}

// Decode returns the entry's body decoded as its message type, for the
// types package messages and package scheduler (v0) define.
func (e Entry) Decode() (proto.Message, error) {
	m := NewMessage(e.Name)
	if m == nil {
		return nil, fmt.Errorf("message #%d: no Go type for %s", e.Seq, e.Name)
	}
	if err := proto.Unmarshal(e.Body, m); err != nil {
		return nil, fmt.Errorf("message #%d (%s): %w", e.Seq, e.Name, err)
	}
	return m, nil
}

// NewMessage returns an empty message of the named libprocess message
// type, or nil when Mezzo has no type for it.
func NewMessage(name string) proto.Message {
	if !strings.HasPrefix(name, "mesos.internal.") && name != "mesos.scheduler.Call" {
		return nil
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(name))
	if err != nil {
		return nil
	}
	return mt.New().Interface()
}

// The registry knows the v0 types once their packages are linked in.
var (
	_ = messages.File_mesos_internal_messages_proto
	_ = schedv0.File_mesos_scheduler_scheduler_proto
)

var (
	entryHead = regexp.MustCompile(`^=== #(\d+) `)
	entryPids = regexp.MustCompile(`^\s+(\S+)\s+->\s+(\S+)\s+message (\S+)`)
)

// ReadTranscript parses the messages shown in full in a transcript file.
func ReadTranscript(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read transcript: %w", err)
	}
	defer f.Close()
	entries, err := parseTranscript(f)
	if err != nil {
		return nil, fmt.Errorf("transcript %s: %w", path, err)
	}
	return entries, nil
}

func parseTranscript(r io.Reader) ([]Entry, error) {
	var out []Entry
	var cur *Entry
	inBody := false
	var b64 strings.Builder
	flush := func() error {
		if cur == nil {
			return nil
		}
		body, err := base64.StdEncoding.DecodeString(b64.String())
		if err != nil {
			return fmt.Errorf("message #%d: body: %w", cur.Seq, err)
		}
		cur.Body = body
		out = append(out, *cur)
		cur, inBody = nil, false
		b64.Reset()
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := entryHead.FindStringSubmatch(line); m != nil {
			if err := flush(); err != nil {
				return nil, err
			}
			seq, _ := strconv.Atoi(m[1])
			cur = &Entry{Seq: seq}
			continue
		}
		if cur == nil {
			continue
		}
		if cur.Name == "" {
			if m := entryPids.FindStringSubmatch(line); m != nil {
				cur.From, cur.To, cur.Name = m[1], m[2], m[3]
			}
			continue
		}
		switch {
		case strings.HasPrefix(line, "    -- body base64"):
			inBody = true
		case strings.HasPrefix(line, "    -- "):
			inBody = false
		case inBody && strings.HasPrefix(line, "      "):
			b64.WriteString(strings.TrimSpace(line))
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "+"):
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

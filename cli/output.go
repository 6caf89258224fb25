package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// table writes aligned columns; the first row is the header.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			cells[i] = "-"
		}
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error {
	if err := t.tw.Flush(); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	return nil
}

// writeJSON writes one message in Mesos' JSON mapping, indented.
func writeJSON(w io.Writer, m proto.Message) error {
	b, err := codec.MarshalJSON(m)
	if err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	return writeIndented(w, b)
}

// writeJSONList writes messages as one JSON array, indented.
func writeJSONList[T proto.Message](w io.Writer, ms []T) error {
	b := []byte{'['}
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = codec.AppendJSON(b, m); err != nil {
			return fmt.Errorf("encoding JSON: %w", err)
		}
	}
	return writeIndented(w, append(b, ']'))
}

func writeIndented(w io.Writer, b []byte) error {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return fmt.Errorf("indenting JSON: %w", err)
	}
	out.WriteByte('\n')
	if _, err := w.Write(out.Bytes()); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// scalars sums the scalar resources by name (cpus, mem, disk, gpus).
func scalars(rs []*mesos.Resource) map[string]float64 {
	out := map[string]float64{}
	for _, r := range rs {
		if r.GetType() == mesos.Value_SCALAR {
			out[r.GetName()] += r.GetScalar().GetValue()
		}
	}
	return out
}

// num formats a quantity without trailing zeros (0.5, 2, 1.25).
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// mb formats megabytes as people read them (512M, 1.5G).
func mb(v float64) string {
	switch {
	case v >= 1024*1024:
		return num(math.Round(v/1024/1024*10)/10) + "T"
	case v >= 1024:
		return num(math.Round(v/1024*10)/10) + "G"
	default:
		return num(v) + "M"
	}
}

// bytesize formats a byte count (512B, 3.1K, 2M).
func bytesize(n uint64) string {
	v := float64(n)
	switch {
	case v >= 1<<30:
		return num(math.Round(v/(1<<30)*10)/10) + "G"
	case v >= 1<<20:
		return num(math.Round(v/(1<<20)*10)/10) + "M"
	case v >= 1<<10:
		return num(math.Round(v/(1<<10)*10)/10) + "K"
	default:
		return strconv.FormatUint(n, 10) + "B"
	}
}

// stateName is a task state without its TASK_ prefix.
func stateName(s mesos.TaskState) string { return strings.TrimPrefix(s.String(), "TASK_") }

// parseState reads a task state as people write it: running, RUNNING,
// TASK_RUNNING.
func parseState(s string) (mesos.TaskState, error) {
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "TASK_") {
		name = "TASK_" + name
	}
	v, ok := mesos.TaskState_value[name]
	if !ok {
		var names []string
		for i := range len(mesos.TaskState_name) + 2 {
			if n, ok := mesos.TaskState_name[int32(i)]; ok {
				names = append(names, strings.ToLower(strings.TrimPrefix(n, "TASK_")))
			}
		}
		return 0, usagef("unknown task state %q: one of %s", s, strings.Join(names, ", "))
	}
	return mesos.TaskState(v), nil
}

// ago formats how long before now t was (3s, 5m, 2h, 4d).
func ago(now time.Time, secs float64) string {
	if secs <= 0 {
		return ""
	}
	d := now.Sub(time.Unix(0, int64(secs*1e9)))
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// stamp formats seconds since the epoch as a local time.
func stamp(secs float64) string {
	if secs <= 0 {
		return ""
	}
	return time.Unix(0, int64(secs*1e9)).Local().Format("2006-01-02 15:04:05.000")
}

package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
)

func eventsCmd(o *options) *cobra.Command {
	var (
		heartbeats bool
		count      int
	)
	c := &cobra.Command{
		Use:   "events",
		Short: "print the master's operator event stream, one line per event",
		Long: strings.TrimSpace(`
Subscribe to the master's operator event stream and print one line per event: the time it
arrived, its type, and the ids and states it is about. The first event, SUBSCRIBED, summarizes the
cluster's state then. With --json each line is the event itself in Mesos' JSON mapping. Runs until
Ctrl-C (exit 130), --count events were printed (exit 0), or the master ends the stream (exit 1).`),
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if count < 0 {
				return usagef("--count must not be negative, got %d", count)
			}
			c, err := o.connect()
			if err != nil {
				return err
			}
			next, closeStream, err := c.subscribe(o.ctx)
			if err != nil {
				return err
			}
			defer closeStream()
			printed := 0
			for count == 0 || printed < count {
				ev, err := next()
				if err != nil {
					if o.ctx.Err() != nil {
						return ErrInterrupted
					}
					return err
				}
				if ev.GetType() == masterpb.Event_HEARTBEAT && !heartbeats {
					continue
				}
				if o.json {
					b, err := codec.MarshalJSON(ev)
					if err != nil {
						return fmt.Errorf("encoding JSON: %w", err)
					}
					_, err = fmt.Fprintf(o.stdout, "%s\n", b)
					if err != nil {
						return fmt.Errorf("writing: %w", err)
					}
				} else if _, err := fmt.Fprintln(o.stdout, eventLine(time.Now(), ev)); err != nil {
					return fmt.Errorf("writing: %w", err)
				}
				printed++
			}
			return nil
		},
	}
	c.Flags().BoolVar(&heartbeats, "heartbeats", false, "print HEARTBEAT events too")
	c.Flags().IntVarP(&count, "count", "n", 0, "exit after printing this many events (0: run until interrupted)")
	return c
}

// eventLine is an event as one line: time, type, and key=value pairs.
func eventLine(now time.Time, ev *masterpb.Event) string {
	var kv []string
	add := func(k, v string) {
		if v == "" {
			return
		}
		if strings.ContainsAny(v, " \t\"=") {
			v = strconv.Quote(v)
		}
		kv = append(kv, k+"="+v)
	}
	switch ev.GetType() {
	case masterpb.Event_SUBSCRIBED:
		st := indexState(ev.GetSubscribed().GetGetState())
		add("agents", strconv.Itoa(len(st.agents)))
		add("frameworks", strconv.Itoa(len(st.state.GetGetFrameworks().GetFrameworks())))
		add("tasks", strconv.Itoa(st.live))
	case masterpb.Event_TASK_ADDED:
		t := ev.GetTaskAdded().GetTask()
		add("task", t.GetTaskId().GetValue())
		add("name", t.GetName())
		add("framework", t.GetFrameworkId().GetValue())
		add("agent", t.GetAgentId().GetValue())
		add("state", stateName(t.GetState()))
	case masterpb.Event_TASK_UPDATED:
		u := ev.GetTaskUpdated()
		s := u.GetStatus()
		add("task", s.GetTaskId().GetValue())
		add("framework", u.GetFrameworkId().GetValue())
		add("agent", s.GetAgentId().GetValue())
		add("state", stateName(u.GetState()))
		if s.Reason != nil {
			add("reason", strings.TrimPrefix(s.GetReason().String(), "REASON_"))
		}
		add("message", strings.ReplaceAll(s.GetMessage(), "\n", " "))
	case masterpb.Event_AGENT_ADDED:
		a := ev.GetAgentAdded().GetAgent()
		add("agent", a.GetAgentInfo().GetId().GetValue())
		add("address", agentAddress(a))
	case masterpb.Event_AGENT_REMOVED:
		add("agent", ev.GetAgentRemoved().GetAgentId().GetValue())
	case masterpb.Event_FRAMEWORK_ADDED, masterpb.Event_FRAMEWORK_UPDATED:
		f := ev.GetFrameworkAdded().GetFramework()
		if ev.GetType() == masterpb.Event_FRAMEWORK_UPDATED {
			f = ev.GetFrameworkUpdated().GetFramework()
		}
		add("framework", f.GetFrameworkInfo().GetId().GetValue())
		add("name", f.GetFrameworkInfo().GetName())
		add("active", strconv.FormatBool(f.GetActive()))
		add("connected", strconv.FormatBool(f.GetConnected()))
	case masterpb.Event_FRAMEWORK_REMOVED:
		info := ev.GetFrameworkRemoved().GetFrameworkInfo()
		add("framework", info.GetId().GetValue())
		add("name", info.GetName())
	}
	line := now.Local().Format("2006-01-02T15:04:05.000") + " " + ev.GetType().String()
	if len(kv) > 0 {
		line += " " + strings.Join(kv, " ")
	}
	return line
}

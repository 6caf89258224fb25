package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/api/v1/recordio"
)

// operatorJSON posts a JSON operator call to base (a master or an agent)
// and decodes the answer.
func operatorJSON(t *testing.T, base, body string, v any) {
	t.Helper()
	resp, err := http.Post("http://"+base+"/api/v1", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %s", base, body, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s %s: %v: %s", base, body, err, b)
	}
}

// operatorEvent is what the test reads of the master's operator events.
type operatorEvent struct {
	Type      string `json:"type"`
	TaskAdded *struct {
		Task struct {
			TaskID struct{ Value string } `json:"task_id"`
			State  string                 `json:"state"`
		} `json:"task"`
	} `json:"task_added"`
	TaskUpdated *struct {
		State  string `json:"state"`
		Status struct {
			TaskID struct{ Value string } `json:"task_id"`
		} `json:"status"`
	} `json:"task_updated"`
}

// TestOperatorViewsFollowATask runs a task with `mezzo execute` on real
// processes while an operator watches: the master's event stream reports
// it added, running and finished, and the master's and the agent's
// documents and operator calls show it while it runs and after.
func TestOperatorViewsFollowATask(t *testing.T) {
	c := startCluster(t, 1, "cpus:2;mem:1024;disk:1024;ports:[31000-31100]")

	// The operator's event stream.
	req, _ := http.NewRequest(http.MethodPost, "http://"+c.master+"/api/v1", strings.NewReader(`{"type":"SUBSCRIBE"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SUBSCRIBE: %s", resp.Status)
	}
	events := make(chan operatorEvent, 64)
	go func() {
		defer close(events)
		r := recordio.NewReader(resp.Body, 16<<20)
		for {
			rec, err := r.Read()
			if err != nil {
				return
			}
			var ev operatorEvent
			if json.Unmarshal(rec, &ev) == nil {
				events <- ev
			}
		}
	}()
	next := func(what string, match func(operatorEvent) bool) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("the event stream ended before %s", what)
				}
				if match(ev) {
					return
				}
			case <-deadline:
				t.Fatalf("no event: %s", what)
			}
		}
	}
	next("SUBSCRIBED", func(ev operatorEvent) bool { return ev.Type == "SUBSCRIBED" })

	exe := start(t, "execute", "execute", "--master="+c.master, "--name=watched", "--command=sleep 2",
		"--resources=cpus:0.1;mem:32")
	next("TASK_ADDED watched", func(ev operatorEvent) bool {
		return ev.Type == "TASK_ADDED" && ev.TaskAdded.Task.TaskID.Value == "watched"
	})
	updated := func(state string) func(operatorEvent) bool {
		return func(ev operatorEvent) bool {
			return ev.Type == "TASK_UPDATED" && ev.TaskUpdated.Status.TaskID.Value == "watched" && ev.TaskUpdated.State == state
		}
	}
	next("TASK_UPDATED TASK_RUNNING", updated("TASK_RUNNING"))

	// While it runs: the master's documents and calls...
	var summary struct {
		Slaves []struct {
			PID     string `json:"pid"`
			Running int    `json:"TASK_RUNNING"`
		} `json:"slaves"`
		Frameworks []struct {
			Running  int      `json:"TASK_RUNNING"`
			SlaveIDs []string `json:"slave_ids"`
		} `json:"frameworks"`
	}
	if err := getJSON("http://"+c.master+"/master/state-summary", &summary); err != nil {
		t.Fatal(err)
	}
	if len(summary.Slaves) != 1 || summary.Slaves[0].Running != 1 || len(summary.Frameworks) != 1 || summary.Frameworks[0].Running != 1 {
		t.Errorf("/master/state-summary while running: %+v", summary)
	}
	var tasks struct {
		Tasks []struct{ ID, State string } `json:"tasks"`
	}
	if err := getJSON("http://"+c.master+"/master/tasks?task_id=watched", &tasks); err != nil {
		t.Fatal(err)
	}
	if len(tasks.Tasks) != 1 || tasks.Tasks[0].State != "TASK_RUNNING" {
		t.Errorf("/master/tasks?task_id=watched: %+v", tasks)
	}
	var getTasks struct {
		GetTasks struct {
			Tasks []struct{ State string } `json:"tasks"`
		} `json:"get_tasks"`
	}
	operatorJSON(t, c.master, `{"type":"GET_TASKS"}`, &getTasks)
	if len(getTasks.GetTasks.Tasks) != 1 || getTasks.GetTasks.Tasks[0].State != "TASK_RUNNING" {
		t.Errorf("master GET_TASKS: %+v", getTasks)
	}
	// ... and the agent's.
	agent := summary.Slaves[0].PID[strings.Index(summary.Slaves[0].PID, "@")+1:]
	var containers struct {
		GetContainers struct {
			Containers []struct {
				ExecutorID struct{ Value string } `json:"executor_id"`
				Statistics *struct {
					MemRSSBytes float64 `json:"mem_rss_bytes"`
				} `json:"resource_statistics"`
			} `json:"containers"`
		} `json:"get_containers"`
	}
	operatorJSON(t, agent, `{"type":"GET_CONTAINERS"}`, &containers)
	if cs := containers.GetContainers.Containers; len(cs) != 1 || cs[0].ExecutorID.Value != "watched" || cs[0].Statistics == nil {
		t.Errorf("agent GET_CONTAINERS: %+v", containers)
	}

	var legacyContainers []struct {
		ExecutorID string `json:"executor_id"`
		Statistics struct {
			CPUsUserTimeSecs *float64 `json:"cpus_user_time_secs"`
		} `json:"statistics"`
	}
	if err := getJSON("http://"+agent+"/containers", &legacyContainers); err != nil {
		t.Fatal(err)
	}
	if len(legacyContainers) != 1 || legacyContainers[0].ExecutorID != "watched" || legacyContainers[0].Statistics.CPUsUserTimeSecs == nil {
		t.Errorf("agent /containers: %+v", legacyContainers)
	}

	next("TASK_UPDATED TASK_FINISHED", updated("TASK_FINISHED"))
	select {
	case <-exe.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("mezzo execute did not end:\n%s", exe.out.String())
	}
	waitFor(t, 10*time.Second, "the finished task in /master/tasks", func() error {
		if err := getJSON("http://"+c.master+"/master/tasks", &tasks); err != nil {
			return err
		}
		if len(tasks.Tasks) != 1 || tasks.Tasks[0].State != "TASK_FINISHED" {
			return fmt.Errorf("tasks %+v", tasks.Tasks)
		}
		return nil
	})
	var agentTasks struct {
		GetTasks struct {
			Completed []struct{ State string } `json:"completed_tasks"`
		} `json:"get_tasks"`
	}
	operatorJSON(t, agent, `{"type":"GET_TASKS"}`, &agentTasks)
	if got := agentTasks.GetTasks.Completed; len(got) != 1 || got[0].State != "TASK_FINISHED" {
		t.Errorf("agent GET_TASKS after the task: %+v", agentTasks)
	}
}

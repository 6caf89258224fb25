package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Instance is one task slot of a role: its current task and how it fares.
// It is persisted in the state file.
type Instance struct {
	Role  string `json:"role"`
	Index int    `json:"index"`
	// Gen counts launches; the task id is <service>.<role>.<index>.<gen>.
	Gen    int    `json:"gen"`
	TaskID string `json:"task_id,omitempty"`
	// AgentID, Host (the agent's address), Hostname and Ports say where
	// the current task runs; empty while pending.
	AgentID  string            `json:"agent_id,omitempty"`
	Host     string            `json:"host,omitempty"`
	Hostname string            `json:"hostname,omitempty"`
	Ports    map[string]uint64 `json:"ports,omitempty"`
	// Hash identifies the rendering the task was launched with.
	Hash string `json:"hash,omitempty"`
	// State is the task's last Mesos state (TASK_RUNNING, ...); empty
	// when no task is launched.
	State   string `json:"state,omitempty"`
	Healthy bool   `json:"healthy"`
	Message string `json:"message,omitempty"`
	// Failures counts failures in a row; it starts again from 0 when a
	// task that was healthy for at least the restart max_delay fails.
	// NotBefore is when the next launch may happen (restart backoff).
	Failures  int       `json:"failures,omitempty"`
	NotBefore time.Time `json:"not_before,omitempty"`
	// Restarting: killed for a rolling update, to be relaunched at once.
	// Removing: killed by a scale-down, to be forgotten once ended.
	Restarting bool `json:"restarting,omitempty"`
	Removing   bool `json:"removing,omitempty"`
	// Avoid lists agents this instance was lost on, not to be used again.
	Avoid []string `json:"avoid,omitempty"`
	// Launched is when the current task was launched.
	Launched time.Time `json:"launched,omitempty"`
	// HealthySince is when the current task became healthy (running, and
	// passing its health check if it has one); zero while it is not.
	HealthySince time.Time `json:"healthy_since,omitempty"`
}

// pending: no live task.
func (in *Instance) pending() bool { return in.TaskID == "" }

// state is what the framework persists in <state_dir>/state.json.
type state struct {
	FrameworkID string `json:"framework_id,omitempty"`
	// Scale holds instance counts set through the API (scale), which
	// override the spec's until an update brings a new spec.
	Scale     map[string]int `json:"scale,omitempty"`
	Instances []*Instance    `json:"instances"`
	// Gens holds the last generation launched of each slot
	// ("<role>.<index>"), so that a slot removed by a scale-down and
	// added again later never reuses a task id.
	Gens map[string]int `json:"gens,omitempty"`
}

func slot(role string, index int) string { return fmt.Sprintf("%s.%d", role, index) }

func statePath(dir string) string { return filepath.Join(dir, "state.json") }

// loadState reads the state file; a missing file is a fresh state.
func loadState(dir string) (*state, error) {
	data, err := os.ReadFile(statePath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return &state{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("state file %s: %w", statePath(dir), err)
	}
	return &st, nil
}

// save writes the state atomically (a temporary file renamed over it).
func (st *state) save(dir string) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	tmp := statePath(dir) + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp, statePath(dir)); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

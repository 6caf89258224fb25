//go:build !race

package agent

// raceEnabled tells tests that the race detector is on (and slows them).
const raceEnabled = false

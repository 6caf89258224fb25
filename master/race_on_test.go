//go:build race

package master

// raceEnabled tells tests that the race detector is on (and slows them).
const raceEnabled = true

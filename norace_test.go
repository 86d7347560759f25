//go:build !race

package sio

// raceEnabled reports whether the tests run under the race detector.
const raceEnabled = false

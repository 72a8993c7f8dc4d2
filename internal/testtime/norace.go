//go:build !race

package testtime

// raceFactor is 1 without the race detector.
const raceFactor = 1

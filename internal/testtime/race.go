//go:build race

package testtime

// raceFactor slows the bounds of a race-enabled build, whose code runs
// several times slower.
const raceFactor = 2

// Package testtime scales the real-time bounds of tests by one factor, so
// that a busy machine, or the race detector, makes them wait longer rather
// than fail. Tests wait for events and assert order and outcome; the bounds
// scaled here only say when to give up waiting (brokertest.Wait, a page's
// wait), or how long a lease or heartbeat of the code under test lasts
// where a real one must run.
//
// The factor is CTIBUS_TEST_TIME_SCALE (a number, 1 by default), times 2
// in a race-enabled build, whose code runs several times slower.
package testtime

import (
	"math"
	"os"
	"strconv"
	"time"
)

// EnvVar names the environment variable that scales every bound: set it to
// 3 on a machine three times slower than usual.
const EnvVar = "CTIBUS_TEST_TIME_SCALE"

// maxFactor bounds the factor, so that a typo cannot make a test wait for
// days.
const maxFactor = 100

// factor is read once: every bound of a test run scales alike.
var factor = parseFactor(os.Getenv(EnvVar)) * raceFactor

// parseFactor reads the factor of s: a positive number up to maxFactor; 1
// when s is empty or something else.
func parseFactor(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0) || math.IsInf(f, 0) {
		return 1
	}
	return min(f, maxFactor)
}

// Factor returns the factor Scale multiplies by.
func Factor() float64 { return factor }

// Scale returns d times the factor.
func Scale(d time.Duration) time.Duration { return time.Duration(float64(d) * factor) }

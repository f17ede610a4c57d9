//go:build race

package deploytest

// raceFlags build the worker with the race detector when the tests run with it, so the
// build reuses the packages the test binary already compiled.
var raceFlags = []string{"-race"}

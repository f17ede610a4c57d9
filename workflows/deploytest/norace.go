//go:build !race

package deploytest

var raceFlags []string

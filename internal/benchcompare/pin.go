package benchcompare

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cpuSplit gives the server under test and the load generator CPUs of their own: the
// server the first half, the generator the rest. Sharing them, the generator's work at
// twice a server's capacity came out of the capacity it was offered twice of; in
// production the edge runs on cores (or machines) of its own.
type cpuSplit struct{ server, generator []int }

// newCPUSplit splits the CPUs this process may run on; ok is false with fewer than two.
func newCPUSplit() (cpuSplit, bool) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return cpuSplit{}, false
	}
	var cpus []int
	for i := range 1024 {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	if len(cpus) < 2 {
		return cpuSplit{}, false
	}
	return cpuSplit{server: cpus[:len(cpus)/2], generator: cpus[len(cpus)/2:]}, true
}

// pinSelf restricts every thread of this process to the generator's CPUs (threads started
// later inherit the mask of the thread that starts them).
func (c cpuSplit) pinSelf() error {
	var set unix.CPUSet
	for _, i := range c.generator {
		set.Set(i)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		// A thread may exit between the listing and the call.
		if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
			return fmt.Errorf("pin the load generator: %w", err)
		}
	}
	return nil
}

// wrap runs argv on the server's CPUs (taskset sets the mask before the server starts, so
// all its threads, and the GOMAXPROCS it derives, follow it).
func (c cpuSplit) wrap(argv []string) []string {
	list := make([]string, len(c.server))
	for i, n := range c.server {
		list[i] = strconv.Itoa(n)
	}
	return append([]string{"taskset", "-c", strings.Join(list, ",")}, argv...)
}

package authz

import (
	"runtime"
	"testing"
	"time"
)

// The admission pace is the CPU time per completed Check, measured over windows of load; a
// window that spans idle time or other work (here 2 s of CPU over one slow spell) is not
// taken for a measure of the service.
func TestCostPerCompletedCheck(t *testing.T) {
	var cpu time.Duration
	c := &cost{cpu: func() time.Duration { return cpu }}
	now := time.Unix(1000, 0)
	complete := func(n int, every, cpuEach time.Duration) {
		for range n {
			now, cpu = now.Add(every), cpu+cpuEach
			c.completed(now)
		}
	}
	complete(200, time.Millisecond, 100*time.Microsecond)
	if got, want := c.drainPer(), 100*time.Microsecond/time.Duration(runtime.GOMAXPROCS(0)); got != want {
		t.Fatalf("pace under load: %s, want %s", got, want)
	}
	// Idle for a minute while a policy revision compiles (2 s of CPU), then a few Checks.
	now, cpu = now.Add(time.Minute), cpu+2*time.Second
	complete(40, 10*time.Millisecond, 100*time.Microsecond)
	if got, want := c.drainPer(), 100*time.Microsecond/time.Duration(runtime.GOMAXPROCS(0)); got != want {
		t.Fatalf("pace after an idle spell with other work: %s, want %s (unchanged)", got, want)
	}
	// A reading that fails (0) is no baseline: the window after it is not charged the
	// process's whole life.
	saved := cpu
	cpu = 0
	complete(40, time.Millisecond, 0)
	cpu = saved
	complete(100, time.Millisecond, 100*time.Microsecond)
	if got, want := c.drainPer(), 100*time.Microsecond/time.Duration(runtime.GOMAXPROCS(0)); got != want {
		t.Fatalf("pace after a failed reading: %s, want %s (unchanged)", got, want)
	}
	// The service gets dearer per Check (refusals, collection): the pace follows.
	complete(2000, time.Millisecond, 300*time.Microsecond)
	if got, want := c.drainPer(), 300*time.Microsecond/time.Duration(runtime.GOMAXPROCS(0)); got < want*9/10 {
		t.Fatalf("pace once Checks cost 300 µs: %s, want about %s", got, want)
	}
}

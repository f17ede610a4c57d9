package deploytest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BuildWorker builds cmd/gatehouse-worker into the test's temporary directory (with -race
// when the test runs with it).
func BuildWorker(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatehouse-worker")
	start := time.Now()
	args := append(append([]string{"build"}, raceFlags...), "-o", bin, "github.com/gatehouse-mcp/gatehouse/cmd/gatehouse-worker")
	cmd := exec.Command("go", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the worker: %v\n%s", err, out)
	}
	t.Logf("built gatehouse-worker in %s", time.Since(start).Round(time.Millisecond))
	return bin
}

// Process is a worker process.
type Process struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

// StartWorkerProcess runs the worker binary against the simulators and the Temporal server
// at address, with the credentials in its environment (--secrets env). It is killed when the
// test ends.
func (e *Env) StartWorkerProcess(t testing.TB, bin, address, taskQueue string, extra ...string) *Process {
	t.Helper()
	args := append([]string{"--temporal-address", address, "--task-queue", taskQueue, "--catalyst-center-url", e.CatalystURL,
		"--servicenow-url", e.ServiceNowURL, "--secrets", "env", "--poll-interval", "100ms", "--listen", "",
		"--register-search-attributes=false", "--log-level", "info"}, extra...)
	p := &Process{out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), e.SecretEnv()...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.Kill)
	return p
}

// Kill sends SIGKILL (no graceful stop: in-flight activities are abandoned) and waits.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Output is everything the process printed (ECS JSON lines).
func (p *Process) Output() string { return p.out.String() }

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

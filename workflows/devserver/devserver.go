// Package devserver runs a real Temporal server for tests and the development platform: the
// Temporal CLI's development server (`temporal server start-dev`, SQLite in a file), from the
// binary named by GATEHOUSE_TEMPORAL_BIN (`make temporal` builds it into .bin/). Tests that
// need it skip with a message saying so when the variable is unset. Development only.
package devserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
)

// EnvBin names the environment variable with the temporal binary's path.
const EnvBin = "GATEHOUSE_TEMPORAL_BIN"

// Options configure a dev server.
type Options struct {
	// SearchAttributes are registered at start, as Name=Type (Keyword, Text, Int, …).
	SearchAttributes []string
	// DBFile is the SQLite file (default: a file in the test's temporary directory). The
	// server's state survives a Restart in it.
	DBFile string
}

// Server is a running dev server.
type Server struct {
	// Address is the frontend's host:port.
	Address string
	// Namespace is "default".
	Namespace string
	DBFile    string

	t    testing.TB
	bin  string
	args []string
	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// Bin returns the temporal binary, or skips the test when GATEHOUSE_TEMPORAL_BIN is unset.
func Bin(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(EnvBin)
	if bin == "" {
		t.Skipf("needs a Temporal dev server: set %s to the temporal CLI binary (make temporal builds .bin/temporal)", EnvBin)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s=%s: %v", EnvBin, bin, err)
	}
	return bin
}

// Start starts a dev server on a free loopback port and waits until its default namespace
// answers. It is stopped when the test ends. SQLite runs in WAL mode with
// synchronous=NORMAL: a committed transaction survives the server process's death (what
// Restart and kill tests need), only an operating system crash could lose the last ones; the
// CLI's default (a sync per commit) makes 100 concurrent deployments take 19 s instead of 7.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin := Bin(t)
	if o.DBFile == "" {
		o.DBFile = filepath.Join(t.TempDir(), "temporal.db")
	}
	s, err := newServer(bin, o)
	if err != nil {
		t.Fatal(err)
	}
	s.t = t
	t.Cleanup(s.Stop)
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// Launch starts a dev server outside a test (the development platform) from bin, with its
// database in o.DBFile (required: it keeps workflows between runs), and waits until it
// answers. The caller stops it.
func Launch(bin string, o Options) (*Server, error) {
	if o.DBFile == "" {
		return nil, fmt.Errorf("devserver.Launch needs a database file")
	}
	s, err := newServer(bin, o)
	if err != nil {
		return nil, err
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func newServer(bin string, o Options) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Address: "127.0.0.1:" + strconv.Itoa(port), Namespace: "default", DBFile: o.DBFile, bin: bin,
		args: []string{"server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", strconv.Itoa(port),
			"--db-filename", o.DBFile, "--log-level", "error", "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"}}
	for _, sa := range o.SearchAttributes {
		s.args = append(s.args, "--search-attribute", sa)
	}
	return s, nil
}

func (s *Server) start() error {
	s.mu.Lock()
	s.out = &syncBuffer{}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("starting the Temporal dev server: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	done := s.done
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Unlock()
	if err := s.waitReady(60 * time.Second); err != nil {
		s.Stop()
		return fmt.Errorf("the Temporal dev server did not become ready: %w\n%s", err, s.out.String())
	}
	return nil
}

// waitReady waits until the default namespace can be described.
func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("the server exited")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := client.DialContext(ctx, client.Options{HostPort: s.Address, Namespace: s.Namespace, Logger: quiet{}})
		if err == nil {
			_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.Namespace})
			c.Close()
		}
		cancel()
		if err == nil {
			return nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 s) and waits for it to exit.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// CLIModule is the Temporal CLI the Makefile and EnsureBin build (v1.5.1 is the newest
// release `go install` builds: later ones carry a replace directive).
const CLIModule = "github.com/temporalio/cli/cmd/temporal@v1.5.1"

// EnsureBin finds the temporal CLI: GATEHOUSE_TEMPORAL_BIN, else dir/temporal, else it builds
// it into dir with `go install` (a few minutes and about 250 MB, once), telling progress what
// it is doing and passing the build's output on.
func EnsureBin(ctx context.Context, dir string, progress io.Writer) (string, error) {
	if bin := os.Getenv(EnvBin); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBin, bin, err)
		}
		return bin, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(abs, "temporal")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	fmt.Fprintf(progress, "Building the Temporal CLI into %s for the deployment workflows (first run only; a few minutes) ...\n", abs)
	cmd := exec.CommandContext(ctx, "go", "install", CLIModule)
	cmd.Env = append(os.Environ(), "GOBIN="+abs)
	cmd.Stdout, cmd.Stderr = progress, progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the Temporal CLI (go install %s): %w", CLIModule, err)
	}
	fmt.Fprintln(progress, "Temporal CLI built.")
	return bin, nil
}

// Restart (tests only) stops the server and starts it again on the same port with the same database
// file: workflows, timers and task queues survive it.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

// Logs returns what the server printed since it was last started.
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// Client dials the server; the client is closed when the test ends.
func (s *Server) Client(t testing.TB, logger log.Logger) client.Client {
	t.Helper()
	if logger == nil {
		logger = quiet{}
	}
	c, err := client.Dial(client.Options{HostPort: s.Address, Namespace: s.Namespace, Logger: logger})
	if err != nil {
		t.Fatalf("dialing Temporal at %s: %v", s.Address, err)
	}
	t.Cleanup(c.Close)
	return c
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// quiet drops the SDK's log lines (a dial that waits for the server logs every failure).
type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}

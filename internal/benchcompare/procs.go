package benchcompare

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// server is one authz server process under test and a gRPC client to it.
type server struct {
	Name   string
	cmd    *exec.Cmd
	conn   *grpc.ClientConn
	client authv3.AuthorizationClient // grpc-go, for the equivalence check
	gen    *generator                 // the load generator's connections
	exited chan error
	// metrics is Gatehouse's Prometheus endpoint (empty for OPA).
	metrics string
}

// counter reads one unlabelled counter from the server's /metrics (0 without one).
func (s *server) counter(name string) float64 {
	if s.metrics == "" {
		return 0
	}
	resp, err := http.Get(s.metrics)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// freePorts returns a free loopback address for a server's gRPC port and one for its HTTP port.
func freePorts() (grpcAddr, httpAddr string, err error) {
	var addrs [2]string
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", err
		}
		// Both stay open until both are chosen, so the two differ.
		defer l.Close()
		addrs[i] = l.Addr().String()
	}
	return addrs[0], addrs[1], nil
}

// start runs argv with stdout discarded and stderr to errFile, and waits until readyURL
// answers 200.
func start(ctx context.Context, name string, argv []string, env []string, grpcAddr, readyURL, errFile string) (*server, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	f, err := os.Create(errFile)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = f
	if name == "opa" {
		cmd.Stdout = f // OPA prints load errors there; Gatehouse's stdout is its decision log
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &server{Name: name, cmd: cmd, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait(); f.Close() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(readyURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-s.exited:
			return nil, fmt.Errorf("%s exited before it was ready (%v); see %s", name, err, errFile)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s not ready after 60 s; see %s", name, errFile)
		}
	}
	// The equivalence check asks one Check at a time: one grpc-go connection.
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(8<<20)))
	if err != nil {
		s.stop()
		return nil, err
	}
	s.conn, s.client = conn, authv3.NewAuthorizationClient(conn)
	// The load generator: one HTTP/2 connection per core, as Envoy opens one per worker
	// thread, on its own lean client (h2client.go).
	s.gen = &generator{}
	for range runtime.NumCPU() {
		c, err := dialH2(grpcAddr)
		if err != nil {
			s.stop()
			return nil, err
		}
		s.gen.conns = append(s.gen.conns, c)
	}
	return s, nil
}

func (s *server) stop() {
	if s.conn != nil {
		_ = s.conn.Close()
	}
	if s.gen != nil {
		for _, c := range s.gen.conns {
			c.close()
		}
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// cpu is the process's user plus system CPU time so far.
func (s *server) cpu() (time.Duration, error) { return processCPU(fmt.Sprint(s.cmd.Process.Pid)) }

// processCPU reads utime + stime of /proc/<pid>/stat ("self" for the load generator).
func processCPU(pid string) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) start at ") ".
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// memory returns VmRSS and VmHWM (peak RSS since the last resetPeak) in bytes.
func (s *server) memory() (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	return rss, hwm, sc.Err()
}

// settle waits, up to limit, until the server's RSS has stopped falling (it gives back what the
// run before left: a burst of 1,000 Checks in flight leaves more than the next, lighter run
// needs), so that the peak the next run reports is its own. It is settled once RSS fell less
// than a megabyte over the last second.
func (s *server) settle(ctx context.Context, limit time.Duration) {
	const step = 250 * time.Millisecond
	var last []int64
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); {
		rss, _, err := s.memory()
		if err != nil {
			return
		}
		last = append(last, rss)
		if n := len(last); n > int(time.Second/step) && last[n-1-int(time.Second/step)]-rss < 1<<20 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(step):
		}
	}
}

// resetPeak resets VmHWM to the current RSS (clear_refs 5), so each run reports its own peak.
func (s *server) resetPeak() {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0o200)
}

// buckets reads a histogram's cumulative bucket counts by upper bound from /metrics.
func (s *server) buckets(name string) map[float64]float64 {
	out := map[float64]float64{}
	if s.metrics == "" {
		return out
	}
	resp, err := http.Get(s.metrics)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	prefix := name + `_bucket{le="`
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		le, count, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		bound, err1 := strconv.ParseFloat(le, 64)
		n, err2 := strconv.ParseFloat(count, 64)
		if err1 == nil && err2 == nil {
			out[bound] = n
		}
	}
	return out
}

// quantileBound is the upper bound of the bucket holding quantile q of the observations
// between two readings of a histogram (as histogram_quantile would place it, without
// interpolation): the service's own time is at most this.
func quantileBound(before, after map[float64]float64, q float64) float64 {
	bounds := make([]float64, 0, len(after))
	for b := range after {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	if len(bounds) == 0 {
		return 0
	}
	total := after[bounds[len(bounds)-1]] - before[bounds[len(bounds)-1]]
	for _, b := range bounds {
		if total > 0 && after[b]-before[b] >= q*total {
			return b
		}
	}
	return bounds[len(bounds)-1]
}

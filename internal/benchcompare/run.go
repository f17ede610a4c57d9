// Package benchcompare runs Gatehouse's authz service side by side with stock OPA and the
// opa-envoy-plugin running an equivalent Rego-only policy (envoy.rego in front of
// Gatehouse's own policy files): it checks that both decide identically on every request
// type of cases.go, then drives both with the same Envoy-shaped CheckRequests over gRPC from
// one load generator, alternating runs, and reports Checks/s, server CPU per Check (utime +
// stime from /proc), RSS and client latencies (make bench-compare; BENCHMARKS.md).
//
// The server under test and the load generator run on CPUs of their own (pin.go), and the
// generator speaks gRPC with a lean client of its own (h2client.go), so that what is
// measured is the server, not the generator's share of the same cores.
package benchcompare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a comparison.
type Options struct {
	GatehouseBin string // the gatehouse binary (gatehouse authz)
	OPABin       string // stock OPA with the opa-envoy-plugin (tools/opaenvoy)
	PolicyDir    string // Gatehouse's policy directory (both servers load it)
	WorkDir      string // configs, bundles and the servers' stderr
	Duration     time.Duration
	Rounds       int           // runs per server and scenario, alternating
	Timeout      time.Duration // the edge's authz timeout: the deadline of open-loop Checks
	Tokens       int           // new tokens minted for the new-token scenarios
	// Pin gives the servers and the load generator CPUs of their own (cpuSplit).
	Pin bool
	// Only, if set, runs the scenarios whose names contain it (and the first, whose
	// capacity the open-loop ones are offered a multiple of).
	Only string
	// Overload is the multiple of capacity the overload scenario offers (2 if unset).
	Overload float64
	// Self is this program, which Run starts as the refusal server (floor.go) after the
	// scenarios and offers the overload scenario's rate; with Self empty it does not.
	Self     string
	Out      io.Writer // the report (Markdown)
	Progress io.Writer
}

// ErrMismatch reports that the two servers decided some request type differently.
var ErrMismatch = errors.New("the two servers decide differently")

// Result is one scenario's pooled figures for one server.
type Result struct {
	Server    string
	Checks    int64
	Elapsed   time.Duration
	CPU       time.Duration
	RSS, Peak int64
	P50, P99  time.Duration
	Target    float64 // open loop: Checks a second to offer
	Sent      int64   // open loop: Checks sent (fewer than Target × Sending if the generator fell behind)
	// Sending is how long the open loop offered Checks (Elapsed also waits for the last
	// answers): goodput is the allowed answers to what was offered in that time.
	Sending time.Duration
	// ServerRefused counts the Checks Gatehouse refused unstarted (its
	// gatehouse_authz_queue_timeouts_total); some reach the client after its deadline.
	ServerRefused float64
	ClientCPU     time.Duration // the load generator's own CPU time
	// ServiceP99 bounds the p99 of Gatehouse's own time per Check
	// (gatehouse_authz_duration_seconds; 0 for OPA, which has no such histogram).
	ServiceP99 time.Duration
	tally
}

// pool adds another round's figures to r: times, CPU and counts add up, memory and the
// service p99 keep the highest.
func (r *Result) pool(o Result) {
	r.Elapsed += o.Elapsed
	r.CPU += o.CPU
	r.Peak = max(r.Peak, o.Peak)
	r.RSS = max(r.RSS, o.RSS)
	r.ServerRefused += o.ServerRefused
	r.ClientCPU += o.ClientCPU
	r.Sent += o.Sent
	r.Sending += o.Sending
	r.ServiceP99 = max(r.ServiceP99, o.ServiceP99)
	r.add(o.tally)
}

func (r Result) rate() float64 { return float64(r.answered()) / r.Elapsed.Seconds() }

func (r Result) cpuPerCheck() time.Duration {
	if r.answered() == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.answered())
}

type scenario struct {
	name     string
	fresh    bool
	inflight int     // closed loop
	load     float64 // open loop: multiple of the server's capacity
}

// scenariosFor lists the scenarios, the last offering overload × capacity.
func scenariosFor(overload float64) []scenario {
	return []scenario{
		{name: "token reused, 64 in flight", inflight: 64},
		{name: "new token per Check, 64 in flight", fresh: true, inflight: 64},
		{name: "new token per Check, 1,000 in flight", fresh: true, inflight: 1000},
		{name: "token reused, 50 % of capacity (open loop)", load: 0.5},
		{name: fmt.Sprintf("token reused, %g× capacity (open loop)", overload), load: overload},
	}
}

// Run starts the issuer and both servers, checks equivalence, measures, and writes the report.
func Run(ctx context.Context, o Options) error {
	progress := func(f string, a ...any) { fmt.Fprintf(o.Progress, f+"\n", a...) }
	iss, err := startIssuer()
	if err != nil {
		return err
	}
	defer iss.close()
	wrap := func(argv []string) []string { return argv }
	if o.Pin {
		split, ok := newCPUSplit()
		if !ok {
			return errors.New("-pin needs at least two CPUs")
		}
		if err := split.pinSelf(); err != nil {
			return err
		}
		wrap = split.wrap
		progress("servers on CPUs %v, load generator on CPUs %v", split.server, split.generator)
	}
	gh, err := startGatehouse(ctx, wrap, o.GatehouseBin, o.PolicyDir, o.WorkDir, iss.URL)
	if err != nil {
		return err
	}
	defer gh.stop()
	opa, err := startOPA(ctx, wrap, o.OPABin, o.PolicyDir, o.WorkDir, iss)
	if err != nil {
		return err
	}
	defer opa.stop()

	cs := cases(iss)
	// Twice: the second pass is answered from Gatehouse's decision memo wherever the first
	// proved a question's answer depends on nothing else, and must still agree with OPA.
	decisions, bad := compare(ctx, overGRPC(gh.client), overGRPC(opa.client), cs)
	if again, badAgain := compare(ctx, overGRPC(gh.client), overGRPC(opa.client), cs); len(badAgain) > 0 {
		decisions, bad = again, append(bad, badAgain...)
	}
	fmt.Fprintf(o.Out, "Decision equivalence on %d request types:\n\n| request | Gatehouse | OPA |\n|---|---|---|\n", len(cs))
	for _, c := range cs {
		d := decisions[c.Name]
		fmt.Fprintf(o.Out, "| %s | %s | %s |\n", c.Name, d[0], d[1])
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w on %d request types: %v", ErrMismatch, len(bad), bad)
	}
	fmt.Fprintf(o.Out, "\nAll %d decided identically, twice (the second time from the decision memo where it applies).\n\n", len(cs))

	caller := caller{iss: iss, sub: "nina", groups: []string{"network-engineers"}}
	body := call("list_devices", map[string]any{"limit": 50, "site": "hq"})
	reused, err := frameCheck(mcpPost("catalyst-center", caller.tokenFor("catalyst-center", nil), body))
	if err != nil {
		return err
	}
	progress("minting %d tokens", o.Tokens)
	pool, err := mint(caller, body, o.Tokens)
	if err != nil {
		return err
	}
	var next atomic.Int64
	// Each fresh run takes its own share of the pool, so no token is ever seen twice.
	share := o.Tokens / (2 * o.Rounds * 2)

	if o.Overload == 0 {
		o.Overload = 2
	}
	scenarios := scenariosFor(o.Overload)
	// A server's capacity, the base of the open-loop rows and of goodput, is its best round
	// of the first scenario: noise on a shared VM only ever slows a round, and a slowed round
	// would make the overload lighter and goodput look better than it is.
	capacity := map[string]Result{}
	all := map[string][]Result{}
	for i, sc := range scenarios {
		if o.Only != "" && i > 0 && !strings.Contains(sc.name, o.Only) {
			continue
		}
		res := map[string]*Result{}
		for round := range o.Rounds {
			order := []*server{gh, opa}
			if round%2 == 1 {
				order = []*server{opa, gh}
			}
			for _, s := range order {
				reqs := requests{reused: reused}
				if sc.fresh {
					start := next.Add(int64(share)) - int64(share)
					reqs = requests{pool: pool[start : start+int64(share)], next: new(atomic.Int64)}
				}
				r, err := measure(ctx, s, sc, reqs, capacity[s.Name].rate(), o)
				if err != nil {
					return err
				}
				progress("%s / %s round %d: %.0f Checks/s, %s CPU/Check, allowed %d, refused %d (server: %.0f), timed out %d; cores used: server %.2f, load generator %.2f",
					sc.name, s.Name, round+1, r.rate(), r.cpuPerCheck(), r.Allowed, r.Refused, r.ServerRefused, r.TimedOut,
					r.CPU.Seconds()/r.Elapsed.Seconds(), r.ClientCPU.Seconds()/r.Elapsed.Seconds())
				if i == 0 && (capacity[s.Name].Elapsed == 0 || r.rate() > capacity[s.Name].rate()) {
					capacity[s.Name] = r
				}
				if res[s.Name] == nil {
					res[s.Name] = &r
					continue
				}
				res[s.Name].pool(r)
			}
		}
		for _, name := range []string{"gatehouse", "opa"} {
			r := res[name]
			r.P50, r.P99 = percentile(r.lat, 0.5), percentile(r.lat, 0.99)
			all[sc.name] = append(all[sc.name], *r)
		}
	}
	report(o.Out, scenarios, all)
	last := all[scenarios[len(scenarios)-1].name]
	if o.Self == "" || len(last) == 0 {
		return nil
	}
	return floor(ctx, o, wrap, reused, capacity["gatehouse"], last[0], progress)
}

// mint makes n requests, each with a token of its own, encoded as gRPC messages.
func mint(c caller, body string, n int) ([][]byte, error) {
	out := make([][]byte, n)
	errs := make([]error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for i := w; i < n && errs[w] == nil; i += len(errs) {
				out[i], errs[w] = frameCheck(mcpPost("catalyst-center", c.tokenFor("catalyst-center", nil), body))
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func measure(ctx context.Context, s *server, sc scenario, reqs requests, capacity float64, o Options) (Result, error) {
	runtime.GC()
	s.settle(ctx, 15*time.Second)
	s.resetPeak()
	cpu0, err := s.cpu()
	if err != nil {
		return Result{}, err
	}
	refused0 := s.counter("gatehouse_authz_queue_timeouts_total")
	hist0 := s.buckets("gatehouse_authz_duration_seconds")
	client0, err := processCPU("self")
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	var t tally
	r := Result{Server: s.Name}
	if sc.load > 0 {
		var sent int
		r.Target = sc.load * capacity
		t, sent = openLoop(ctx, s.gen, reqs, r.Target, o.Duration, o.Timeout)
		r.Sent, r.Sending = int64(sent), o.Duration
	} else {
		t = closedLoop(ctx, s.gen, reqs, sc.inflight, o.Duration, 30*time.Second)
	}
	r.Elapsed = time.Since(start)
	cpu1, err := s.cpu()
	if err != nil {
		return Result{}, err
	}
	r.CPU = cpu1 - cpu0
	r.ServerRefused = s.counter("gatehouse_authz_queue_timeouts_total") - refused0
	r.ServiceP99 = time.Duration(quantileBound(hist0, s.buckets("gatehouse_authz_duration_seconds"), 0.99) * float64(time.Second))
	client1, err := processCPU("self")
	if err != nil {
		return Result{}, err
	}
	r.ClientCPU = client1 - client0
	if r.RSS, r.Peak, err = s.memory(); err != nil {
		return Result{}, err
	}
	r.tally = t
	r.Checks = t.answered() + t.TimedOut
	return r, nil
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func report(w io.Writer, scenarios []scenario, all map[string][]Result) {
	fmt.Fprintln(w, "| scenario | server | Checks/s | CPU/Check | RSS (peak) | p50 | p99 | service p99 | allowed | refused 503 | denied | timed out | errors |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, sc := range scenarios {
		for _, r := range all[sc.name] {
			name := sc.name
			if r.Target > 0 {
				name = fmt.Sprintf("%s, %.0f/s offered (of %.0f/s)", sc.name, float64(r.Sent)/r.Sending.Seconds(), r.Target)
			}
			svc := "—"
			if r.ServiceP99 > 0 {
				svc = "≤ " + ms(r.ServiceP99)
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %d µs | %s (%s) | %s | %s | %s | %d | %d | %d | %d | %d |\n",
				name, r.Server, r.rate(), r.cpuPerCheck().Microseconds(), mb(r.RSS), mb(r.Peak), ms(r.P50), ms(r.P99), svc,
				r.Allowed, r.Refused, r.Denied, r.TimedOut, r.Errors)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ratios (Gatehouse / OPA):")
	fmt.Fprintln(w)
	for _, sc := range scenarios {
		rs := all[sc.name]
		if len(rs) != 2 || rs[1].cpuPerCheck() == 0 || rs[1].Peak == 0 {
			continue
		}
		g, o := rs[0], rs[1]
		fmt.Fprintf(w, "- %s: CPU/Check %.2f×, peak RSS %.2f×, Checks/s %.2f×", sc.name,
			float64(g.cpuPerCheck())/float64(o.cpuPerCheck()), float64(g.Peak)/float64(o.Peak), g.rate()/o.rate())
		if sc.load > 0 {
			fmt.Fprintf(w, "; goodput (allowed/s while offered) Gatehouse %.0f, OPA %.0f",
				float64(g.Allowed)/g.Sending.Seconds(), float64(o.Allowed)/o.Sending.Seconds())
		}
		fmt.Fprintln(w)
	}
	_ = os.Stdout.Sync()
}

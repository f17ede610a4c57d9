package benchcompare

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
)

// The refusal floor: what grpc-go itself spends answering a Check it refuses in its tap, the
// earliest point a grpc-go server can refuse one (the stream's HEADERS are read and decoded,
// the stream and its contexts made; its message is read and dropped; trailers are written).
// Gatehouse refuses there too, so under overload every refused Check costs at least this,
// and at k× capacity goodput is bounded by what those refusals leave (goodputBound).

// errRefused is the refusal server's only answer, as long as Gatehouse's, so that grpc-go
// encodes as many trailer bytes for it.
var errRefused = status.Error(codes.Unavailable, "authz service overloaded: the Check could not be decided before its deadline; retry")

// ServeRefusals runs a gRPC server on grpcLis that refuses every Check in its tap with
// UNAVAILABLE, and answers 200 on httpLis's /readyz, until ctx ends. It collects garbage at
// Gatehouse's target (GOGC=50) unless GOGC is set, so a refusal allocates and collects as it
// would there.
func ServeRefusals(ctx context.Context, grpcLis, httpLis net.Listener) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	refuse := func(ctx context.Context, _ *tap.Info) (context.Context, error) { return ctx, errRefused }
	g := grpc.NewServer(grpc.InTapHandle(refuse), grpc.MaxConcurrentStreams(4096))
	authv3.RegisterAuthorizationServer(g, refuser{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- g.Serve(grpcLis) }()
	go func() { errc <- hs.Serve(httpLis) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc: // a server stopped on its own
	}
	g.Stop()
	if cerr := hs.Close(); err == nil && cerr != nil && !errors.Is(cerr, http.ErrServerClosed) {
		err = cerr
	}
	return err
}

// refuser is never reached: the tap refuses every Check first.
type refuser struct{}

func (refuser) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return nil, status.Error(codes.Internal, "the refusal server's tap let a Check through")
}

// goodputBound is the largest share of its capacity a server can still allow while offered
// k × its capacity, when answering a Check costs a of CPU and refusing one r: with C = 1/a
// Checks a second per core, x allowed and kC − x refused fill the core when
// x·a + (kC − x)·r = 1, so x / C = (a − k·r) / (a − r).
func goodputBound(a, r time.Duration, k float64) float64 {
	if a <= r {
		return 0
	}
	return max(0, (float64(a)-k*float64(r))/float64(a-r))
}

// startRefusals starts this program (self) as the refusal server (-serve-refusals) on the
// servers' CPUs.
func startRefusals(ctx context.Context, wrap func([]string) []string, self, work string) (*server, error) {
	grpcAddr, httpAddr, err := freePorts()
	if err != nil {
		return nil, err
	}
	return start(ctx, "refusals", wrap([]string{self, "-serve-refusals", grpcAddr + "," + httpAddr}), nil, grpcAddr,
		"http://"+httpAddr+"/readyz", fmt.Sprintf("%s/refusals.stderr", work))
}

// floorLoads are the multiples of the overload scenario's rate the refusal server is
// offered: a refusal costs less the busier the server (the transport batches its reads and
// writes), and Gatehouse under overload is saturated, so the floor is the cheapest of them.
var floorLoads = []float64{1, 2, 4}

// floor measures the refusal server offered what Gatehouse was offered in the overload
// scenario and multiples of it, and reports the goodput that grpc-go's own cost of a refusal
// leaves at that overload; capacity is Gatehouse's best capacity round.
func floor(ctx context.Context, o Options, wrap func([]string) []string, reused []byte, capacity, overload Result, progress func(string, ...any)) error {
	ref, err := startRefusals(ctx, wrap, o.Self, o.WorkDir)
	if err != nil {
		return err
	}
	defer ref.stop()
	fmt.Fprintf(o.Out, "\nRefusal floor: a grpc-go server whose tap refuses every Check (`benchcompare -serve-refusals`, "+
		"on the servers' CPUs, GOGC=50 as Gatehouse), offered multiples of the %g× scenario's rate:\n\n", o.Overload)
	fmt.Fprintln(o.Out, "| offered | refused/s | CPU per refusal | cores used | timed out |")
	fmt.Fprintln(o.Out, "|---|---|---|---|---|")
	var cheapest time.Duration
	for _, k := range floorLoads {
		var acc *Result
		for round := range o.Rounds {
			r, err := measure(ctx, ref, scenario{load: k * o.Overload}, requests{reused: reused}, capacity.rate(), o)
			if err != nil {
				return err
			}
			progress("refusal floor at %.0f/s, round %d: %.0f refused/s, %s CPU each, timed out %d",
				r.Target, round+1, r.rate(), r.cpuPerCheck(), r.TimedOut)
			if acc == nil {
				acc = &r
				continue
			}
			acc.pool(r)
		}
		if acc.Allowed+acc.Denied+acc.Errors > 0 || acc.Refused == 0 {
			return fmt.Errorf("the refusal server answered other than refusing: %+v", acc.tally)
		}
		per := acc.cpuPerCheck()
		if cheapest == 0 || per < cheapest {
			cheapest = per
		}
		fmt.Fprintf(o.Out, "| %.0f/s | %.0f | %.1f µs | %.2f | %d |\n", float64(acc.Sent)/acc.Sending.Seconds(),
			acc.rate(), float64(per)/float64(time.Microsecond), acc.CPU.Seconds()/acc.Elapsed.Seconds(), acc.TimedOut)
	}
	a := capacity.cpuPerCheck()
	allowed := float64(overload.Allowed) / overload.Sending.Seconds()
	fmt.Fprintf(o.Out, "\nWith Gatehouse's %d µs per Check at capacity, refusals at grpc-go's cheapest (%.1f µs) leave at most "+
		"**%.0f %%** of capacity as goodput at %g× capacity; Gatehouse allowed %.0f/s there, %.0f %% of its %.0f/s (its best capacity round).\n",
		a.Microseconds(), float64(cheapest)/float64(time.Microsecond), 100*goodputBound(a, cheapest, o.Overload), o.Overload,
		allowed, 100*allowed/capacity.rate(), capacity.rate())
	return nil
}

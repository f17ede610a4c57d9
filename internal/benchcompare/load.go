package benchcompare

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// tally counts what one run's Checks were answered.
type tally struct {
	Allowed  int64 // allowed (the benchmark's requests are all allowed when decided)
	Denied   int64 // denied with a status other than 503: a wrong denial under load
	Refused  int64 // refused retryably: gRPC UNAVAILABLE or a 503 denial
	TimedOut int64 // no answer before the deadline (Envoy's authz timeout)
	Errors   int64 // any other gRPC error
	lat      []time.Duration
}

func (t *tally) add(o tally) {
	t.Allowed += o.Allowed
	t.Denied += o.Denied
	t.Refused += o.Refused
	t.TimedOut += o.TimedOut
	t.Errors += o.Errors
	t.lat = append(t.lat, o.lat...)
}

func (t *tally) answered() int64 { return t.Allowed + t.Denied + t.Refused + t.Errors }

func (t *tally) record(resp *authv3.CheckResponse, err error, took time.Duration) {
	switch {
	case err == nil && resp.GetStatus().GetCode() == 0 && resp.GetOkResponse() != nil:
		t.Allowed++
		t.lat = append(t.lat, took)
	case err == nil && resp.GetDeniedResponse().GetStatus().GetCode() == 503:
		t.Refused++
		t.lat = append(t.lat, took)
	case err == nil:
		t.Denied++
		t.lat = append(t.lat, took)
	case status.Code(err) == codes.Unavailable:
		t.Refused++
		t.lat = append(t.lat, took)
	case status.Code(err) == codes.DeadlineExceeded:
		t.TimedOut++
	default:
		t.Errors++
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// requests hands out the request of each Check: one reused, or a new token per Check from a
// pool made beforehand (ok is false when the pool is spent, which ends the run).
type requests struct {
	reused *authv3.CheckRequest
	pool   []*authv3.CheckRequest
	next   *atomic.Int64
}

func (r requests) get() (*authv3.CheckRequest, bool) {
	if r.reused != nil {
		return r.reused, true
	}
	i := r.next.Add(1) - 1
	if int(i) >= len(r.pool) {
		return nil, false
	}
	return r.pool[i], true
}

// closedLoop keeps inflight Checks outstanding for d (each worker sends its next Check when
// the last is answered) and waits for the last answers.
func closedLoop(ctx context.Context, c authv3.AuthorizationClient, reqs requests, inflight int, d, timeout time.Duration) tally {
	stop := time.Now().Add(d)
	var mu sync.Mutex
	var total tally
	var wg sync.WaitGroup
	for range inflight {
		wg.Go(func() {
			var t tally
			for time.Now().Before(stop) && ctx.Err() == nil {
				req, ok := reqs.get()
				if !ok {
					break
				}
				cctx, cancel := context.WithTimeout(ctx, timeout)
				start := time.Now()
				resp, err := c.Check(cctx, req)
				t.record(resp, err, time.Since(start))
				cancel()
			}
			mu.Lock()
			total.add(t)
			mu.Unlock()
		})
	}
	wg.Wait()
	return total
}

// openLoop offers rate Checks a second for d whatever the answers (as clients behind an
// edge do), each with the edge's authz timeout as its deadline.
func openLoop(ctx context.Context, c authv3.AuthorizationClient, reqs requests, rate float64, d, timeout time.Duration) tally {
	var mu sync.Mutex
	var total tally
	var wg sync.WaitGroup
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	sent := 0
	for now := range tick.C {
		el := now.Sub(start)
		if el >= d || ctx.Err() != nil {
			break
		}
		for due := int(el.Seconds() * rate); sent < due; sent++ {
			req, ok := reqs.get()
			if !ok {
				break
			}
			wg.Go(func() {
				cctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				t0 := time.Now()
				resp, err := c.Check(cctx, req)
				took := time.Since(t0)
				mu.Lock()
				total.record(resp, err, took)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	return total
}

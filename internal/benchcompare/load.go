package benchcompare

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
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

func (t *tally) record(a answer, took time.Duration) {
	switch {
	case a.rpc == codes.OK && a.check == 0 && a.ok:
		t.Allowed++
	case a.rpc == codes.OK && a.denied == 503:
		t.Refused++
	case a.rpc == codes.OK:
		t.Denied++
	case a.rpc == codes.Unavailable:
		t.Refused++
	case a.rpc == codes.DeadlineExceeded:
		t.TimedOut++
		return
	default:
		t.Errors++
		return
	}
	t.lat = append(t.lat, took)
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// requests hands out the request of each Check, encoded as a gRPC message: one reused, or
// a new token per Check from a pool made beforehand (ok is false when the pool is spent,
// which ends the run).
type requests struct {
	reused []byte
	pool   [][]byte
	next   *atomic.Int64
}

func (r requests) get() ([]byte, bool) {
	if r.reused != nil {
		return r.reused, true
	}
	i := r.next.Add(1) - 1
	if int(i) >= len(r.pool) {
		return nil, false
	}
	return r.pool[i], true
}

// generator spreads Checks over a server's connections, as Envoy spreads them over its
// workers' connections.
type generator struct {
	conns []*h2conn
	next  atomic.Uint64
}

func (g *generator) conn() *h2conn { return g.conns[g.next.Add(1)%uint64(len(g.conns))] }

// closedLoop keeps inflight Checks outstanding for d (each worker sends its next Check when
// the last is answered) and waits for the last answers.
func closedLoop(ctx context.Context, g *generator, reqs requests, inflight int, d, timeout time.Duration) tally {
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
				t.record(g.conn().check(req, timeout))
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
// edge do), each with the edge's authz timeout as its deadline; sent is how many it could
// send (a generator that falls behind offers less than rate).
func openLoop(ctx context.Context, g *generator, reqs requests, rate float64, d, timeout time.Duration) (total tally, sent int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	done := func(a answer, took time.Duration) {
		mu.Lock()
		total.record(a, took)
		mu.Unlock()
		wg.Done()
	}
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
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
			wg.Add(1)
			if err := g.conn().send(req, timeout, done); err != nil {
				done(answer{rpc: codes.Unavailable}, 0)
			}
		}
	}
	wg.Wait()
	return total, sent
}

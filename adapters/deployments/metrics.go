package deployments

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
)

// queueCollector reports the deployments that are not finished, read from Temporal's
// visibility store at scrape time: how many are in each open state, and how long the oldest
// has waited for approval. Any replica answers the same, so alert on max(), not sum().
type queueCollector struct {
	c       Client
	now     func() time.Time
	byState *prometheus.Desc
	oldest  *prometheus.Desc
	up      *prometheus.Desc
}

// openStates are listed one by one; terminal states grow forever and are not counted here.
var openStates = []deploy.State{deploy.StateValidating, deploy.StateAwaitingApproval, deploy.StateScheduled,
	deploy.StateImplementing, deploy.StateDeploying, deploy.StateVerifying, deploy.StateRollingBack}

// maxListed bounds one scrape's reads per state (pages of 100).
const maxListed = 1000

func newQueueCollector(c Client) *queueCollector {
	return &queueCollector{c: c, now: time.Now,
		byState: prometheus.NewDesc("gatehouse_deployments", "Deployments not yet finished, by state (at most 1000 counted per state).",
			[]string{"state"}, nil),
		oldest: prometheus.NewDesc("gatehouse_deployments_awaiting_approval_oldest_seconds",
			"Age of the oldest deployment waiting for approval (0 when none waits).", nil, nil),
		up: prometheus.NewDesc("gatehouse_deployments_listing_up", "1 when the deployments could be listed from Temporal at this scrape.", nil, nil),
	}
}

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- q.byState
	ch <- q.oldest
	ch <- q.up
}

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	oldest := 0.0
	for _, st := range openStates {
		n, first, err := q.count(ctx, st)
		if err != nil {
			ch <- prometheus.MustNewConstMetric(q.up, prometheus.GaugeValue, 0)
			return
		}
		ch <- prometheus.MustNewConstMetric(q.byState, prometheus.GaugeValue, float64(n), string(st))
		if st == deploy.StateAwaitingApproval && !first.IsZero() {
			oldest = q.now().Sub(first).Seconds()
		}
	}
	ch <- prometheus.MustNewConstMetric(q.oldest, prometheus.GaugeValue, oldest)
	ch <- prometheus.MustNewConstMetric(q.up, prometheus.GaugeValue, 1)
}

// count lists the deployments in state st and returns how many and the earliest start.
func (q *queueCollector) count(ctx context.Context, st deploy.State) (int, time.Time, error) {
	var n int
	var first time.Time
	f := deploy.Filter{State: st, PageSize: 100}
	for n < maxListed {
		p, err := q.c.List(ctx, f)
		if err != nil {
			return 0, time.Time{}, err
		}
		for _, d := range p.Deployments {
			n++
			if first.IsZero() || d.Started.Before(first) {
				first = d.Started
			}
		}
		if len(p.NextPageToken) == 0 {
			break
		}
		f.NextPageToken = p.NextPageToken
	}
	return n, first, nil
}

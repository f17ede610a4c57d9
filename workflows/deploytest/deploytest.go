// Package deploytest runs template deployments against the Catalyst Center and ServiceNow
// simulators for tests: both simulators over real HTTP, a controllable clock for the
// Catalyst Center one (its deploy tasks progress on it), the real activities, a worker, and
// look-ups that count what the workflows created. The deployments adapter's tests use it
// the same way the workflow's own tests do.
package deploytest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter"
	catsim "github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter/sim"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	snsim "github.com/gatehouse-mcp/gatehouse/adapters/servicenow/sim"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
	"github.com/gatehouse-mcp/gatehouse/workflows/temporalx"
	"github.com/gatehouse-mcp/gatehouse/workflows/worker"
)

// Clock is the Catalyst Center simulator's clock: real time plus an offset, which a test
// can freeze (deploy tasks then stay in progress) and move forward.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
	frozen *time.Time
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen != nil {
		return *c.frozen
	}
	return time.Now().Add(c.offset)
}

// Freeze stops the clock: tasks started from now on stay in progress until Advance.
func (c *Clock) Freeze() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen == nil {
		at := time.Now().Add(c.offset)
		c.frozen = &at
	}
}

// Advance moves the clock forward by d and lets it run again from there.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen != nil {
		c.offset = time.Until(c.frozen.Add(d))
		c.frozen = nil
		return
	}
	c.offset += d
}

// DeployDuration is how long a simulated deploy task runs on the clock.
const DeployDuration = 5 * time.Second

// Env is the two simulators, served over HTTP until the test ends.
type Env struct {
	Clock         *Clock
	Catalyst      *catsim.Sim
	CatalystURL   string
	ServiceNow    *snsim.Sim
	ServiceNowURL string
	// Devices maps host names to Catalyst Center device ids; Templates maps template names
	// to ids (the simulator's seed).
	Devices   map[string]string
	Templates map[string]string
}

// New starts the simulators.
func New(t testing.TB) *Env {
	t.Helper()
	e := &Env{Clock: &Clock{}, Devices: map[string]string{}, Templates: map[string]string{}}
	e.Catalyst = catsim.New(catsim.Options{Now: e.Clock.Now})
	cat := httptest.NewServer(e.Catalyst)
	t.Cleanup(cat.Close)
	e.CatalystURL = cat.URL
	e.ServiceNow = snsim.New(snsim.Options{})
	sn := httptest.NewServer(e.ServiceNow)
	t.Cleanup(sn.Close)
	e.ServiceNowURL = sn.URL

	c, err := catalystcenter.NewClient(e.CatalystURL, e.Secrets(), worker.KitMetrics(nil, zerolog.Nop()), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	devices, err := c.Devices(ctx, catalystcenter.DeviceFilter{Offset: 1, Limit: 500})
	if err != nil {
		t.Fatalf("listing the simulator's devices: %v", err)
	}
	for _, d := range devices {
		e.Devices[d.Hostname] = d.ID
	}
	templates, err := c.Templates(ctx, "")
	if err != nil {
		t.Fatalf("listing the simulator's templates: %v", err)
	}
	for _, tm := range templates {
		e.Templates[tm.Name] = tm.TemplateID
	}
	return e
}

// SecretEnv are the simulators' credentials as GATEHOUSE_SECRET_* variables, for a worker
// process run with --secrets env.
func (e *Env) SecretEnv() []string {
	return []string{
		"GATEHOUSE_SECRET_CATALYST_CENTER_USERNAME=admin",
		"GATEHOUSE_SECRET_CATALYST_CENTER_PASSWORD=C1sco12345",
		"GATEHOUSE_SECRET_SERVICENOW_CLIENT_ID=" + snsim.DefaultClientID,
		"GATEHOUSE_SECRET_SERVICENOW_CLIENT_SECRET=" + snsim.DefaultClientSecret,
	}
}

// Secrets is a secret source with the simulators' credentials.
func (e *Env) Secrets() kit.SecretSource {
	return kit.EnvSource{Environ: e.SecretEnv}
}

// Upstreams are the worker's upstreams: both simulators, polled every 100 ms.
func (e *Env) Upstreams() worker.Upstreams {
	return worker.Upstreams{CatalystCenterURL: e.CatalystURL, ServiceNowURL: e.ServiceNowURL, Secrets: e.Secrets(),
		PollInterval: 100 * time.Millisecond}
}

// Activities are the real activities against the simulators.
func (e *Env) Activities(t testing.TB) *deploy.Activities {
	t.Helper()
	a, err := worker.NewActivities(e.Upstreams(), nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Request is a valid request: template NTP-Servers version 2 on the given hosts, inside a
// change window open from an hour ago for two hours, requested by alice.
func (e *Env) Request(t testing.TB, hosts ...string) deploy.Request {
	t.Helper()
	var ids []string
	for _, h := range hosts {
		id, ok := e.Devices[h]
		if !ok {
			t.Fatalf("the simulator has no device %s", h)
		}
		ids = append(ids, id)
	}
	now := time.Now().UTC().Truncate(time.Second)
	return deploy.Request{
		TemplateID: e.Templates["NTP-Servers"], TemplateVersion: 2,
		Parameters: map[string]string{"ntp_primary": "10.0.0.1", "ntp_secondary": "10.0.0.2"},
		DeviceIDs:  ids,
		Window:     deploy.Window{Start: now.Add(-time.Hour), End: now.Add(2 * time.Hour)},
		Requester:  deploy.Identity{Subject: "alice", Email: "alice@gatehouse.example"},
		DecisionID: "dec-start-1",
	}
}

// Changes returns the change requests a workflow opened (correlation id gatehouse:<id>),
// as the Table API lists them (number, state, close_code, close_notes, correlation_id).
func (e *Env) Changes(t testing.TB, workflowID string) []map[string]string {
	t.Helper()
	return e.changeRows(t, "correlation_id=gatehouse:"+workflowID)
}

// AllGatehouseChanges returns every change request opened through Gatehouse.
func (e *Env) AllGatehouseChanges(t testing.TB) []map[string]string {
	t.Helper()
	return e.changeRows(t, "correlation_idSTARTSWITHgatehouse:")
}

func (e *Env) changeRows(t testing.TB, query string) []map[string]string {
	t.Helper()
	u := e.ServiceNowURL + "/api/now/table/change_request?" + url.Values{"sysparm_query": {query},
		"sysparm_fields": {"sys_id,number,state,close_code,close_notes,correlation_id,short_description,implementation_plan"}}.Encode()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.SetBasicAuth(snsim.DefaultUsername, snsim.DefaultPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Result []map[string]string `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("listing changes: %d %v", resp.StatusCode, err)
	}
	return out.Result
}

// WorkNotes returns a change's work notes, newest first.
func (e *Env) WorkNotes(number string) []string {
	var out []string
	for _, j := range e.ServiceNow.Journal(number) {
		if j.Element == "work_notes" {
			out = append(out, j.Value)
		}
	}
	return out
}

// DeploymentsOf returns the simulator's deployments whose parameters carry value under
// key (tests give each deployment a distinct parameter value to tell them apart).
func (e *Env) DeploymentsOf(key, value string) []catsim.Deployment {
	var out []catsim.Deployment
	for _, d := range e.Catalyst.Deployments() {
		if len(d.Targets) > 0 && strings.TrimSpace(toString(d.Targets[0].Params[key])) == value {
			out = append(out, d)
		}
	}
	return out
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// StartWorker runs an in-process worker against the simulators until the test ends.
func (e *Env) StartWorker(t testing.TB, address, namespace, taskQueue string, log zerolog.Logger) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, worker.Config{
			Temporal:  temporalx.Options{Address: address, Namespace: namespace, Log: log},
			TaskQueue: taskQueue, Upstreams: e.Upstreams(), RegisterSearchAttributes: false, Log: log,
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
}

// RunClockFast moves the Catalyst Center clock forward a second every 20 ms until the test
// ends, so a 5 s deploy task ends in about 100 ms.
func (e *Env) RunClockFast(t testing.TB) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				e.Clock.Advance(time.Second)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

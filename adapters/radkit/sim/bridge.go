package sim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit/devicecmd"
)

// DefaultBridgeToken is the bearer token a Bridge accepts unless told otherwise (development
// only: the dev platform and the tests use it).
const DefaultBridgeToken = "gatehouse-radkit-bridge-dev"

// BridgeOptions configure a Bridge.
type BridgeOptions struct {
	// Token is the bearer token callers must send (default DefaultBridgeToken).
	Token string
	// SyncWait is how long an exec is waited for before the bridge answers 202 with a job
	// (default 2s).
	SyncWait time.Duration
	// Now is the devices' clock (show clock, uptimes; default time.Now).
	Now func() time.Time
}

// Bridge simulates a RADKit bridge: the HTTP contract of docs/radkit-bridge.md over the
// simulated devices, with the bridge's own refusals (the same floor as the adapter's), jobs
// for runs that take longer than SyncWait, and test controls for faults: slow devices
// (SetDelay), 5xx answers (FailNext), a RADKit service that is not connected
// (SetServiceConnected). Devices marked Unreachable answer 502 device_unreachable.
type Bridge struct {
	opts BridgeOptions
	net  *network
	mux  *http.ServeMux

	mu        sync.Mutex
	delays    map[string]time.Duration
	fail      []fault
	down      bool
	jobs      map[string]*bridgeJob
	seq       int
	requests  map[string]int
	active    map[string]int
	maxActive map[string]int
}

type fault struct {
	prefix string
	status int
}

type bridgeJob struct {
	done   chan struct{}
	result execResult
}

type execResult struct {
	Device  string          `json:"device"`
	Results []commandResult `json:"results"`
}

type commandResult struct {
	Command   string `json:"command"`
	Status    string `json:"status"`
	Output    string `json:"output,omitempty"`
	Lines     int    `json:"lines"`
	Truncated bool   `json:"truncated,omitempty"`
	Error     string `json:"error,omitempty"`
}

// NewBridge returns a bridge serving devices (Seed(), Synthetic(n), or both).
func NewBridge(devices []Device, opts BridgeOptions) *Bridge {
	if opts.Token == "" {
		opts.Token = DefaultBridgeToken
	}
	if opts.SyncWait == 0 {
		opts.SyncWait = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b := &Bridge{opts: opts, net: newNetwork(append([]Device(nil), devices...)), delays: map[string]time.Duration{},
		jobs: map[string]*bridgeJob{}, requests: map[string]int{}, active: map[string]int{}, maxActive: map[string]int{}}
	b.mux = http.NewServeMux()
	b.mux.HandleFunc("GET /v1/health", b.health)
	b.mux.HandleFunc("GET /v1/devices", b.list)
	b.mux.HandleFunc("GET /v1/devices/{name}", b.get)
	b.mux.HandleFunc("POST /v1/devices/{name}/exec", b.exec)
	b.mux.HandleFunc("GET /v1/jobs/{id}", b.job)
	return b
}

// SetDelay makes every command on device take d (0: answer at once).
func (b *Bridge) SetDelay(device string, d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.delays[device] = d
}

// FailNext makes the next n requests whose "METHOD /path" starts with prefix answer status
// (a 5xx, say) with an internal error.
func (b *Bridge) FailNext(prefix string, status, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for range n {
		b.fail = append(b.fail, fault{prefix, status})
	}
}

// SetServiceConnected says whether the bridge's RADKit service is reachable (503 when not).
func (b *Bridge) SetServiceConnected(up bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down = !up
}

// Requests counts requests by "METHOD /path" prefix, e.g. Requests("POST /v1/devices/x/exec").
func (b *Bridge) Requests(prefix string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for k, v := range b.requests {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}

// MaxConcurrent is the largest number of command runs device ever had at once.
func (b *Bridge) MaxConcurrent(device string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.maxActive[device]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (b *Bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	key := r.Method + " " + r.URL.Path
	b.requests[key]++
	var fail int
	for i, f := range b.fail {
		if strings.HasPrefix(key, f.prefix) {
			fail = f.status
			b.fail = append(b.fail[:i:i], b.fail[i+1:]...)
			break
		}
	}
	down := b.down
	b.mu.Unlock()
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(b.opts.Token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="radkit-bridge"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")
		return
	}
	switch {
	case fail != 0:
		writeError(w, fail, "internal", fmt.Sprintf("simulated failure (%d)", fail))
		return
	case down:
		writeError(w, http.StatusServiceUnavailable, "service_unavailable", "the RADKit service is not connected")
		return
	}
	b.mux.ServeHTTP(w, r)
}

func (b *Bridge) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "radkit": "connected"})
}

type deviceJSON struct {
	Name        string            `json:"name"`
	Host        string            `json:"host"`
	DeviceType  string            `json:"device_type"`
	Platform    string            `json:"platform,omitempty"`
	Site        string            `json:"site,omitempty"`
	Labels      []string          `json:"labels"`
	Description string            `json:"description,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
}

func toJSON(d *Device, attrs bool) deviceJSON {
	j := deviceJSON{Name: d.Name, Host: d.Host, DeviceType: d.Type, Platform: d.Platform, Site: d.Site,
		Labels: append([]string{}, d.Labels...), Description: d.Series}
	if attrs {
		j.Attributes = map[string]string{"serial": d.Serial, "software_version": d.Version, "role": d.Role,
			"terminal": "ssh", "netconf": "disabled", "snmp": "enabled", "mac_address": d.MAC}
	}
	return j
}

func (b *Bridge) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := []deviceJSON{}
	for _, d := range b.net.devices {
		if n := q.Get("name"); n != "" && !strings.Contains(strings.ToLower(d.Name), strings.ToLower(n)) {
			continue
		}
		if t := q.Get("device_type"); t != "" && !strings.EqualFold(t, d.Type) {
			continue
		}
		if s := q.Get("site"); s != "" && !strings.EqualFold(s, d.Site) {
			continue
		}
		if l := q.Get("label"); l != "" && !hasFold(d.Labels, l) {
			continue
		}
		out = append(out, toJSON(d, false))
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
}

func hasFold(ls []string, l string) bool {
	for _, x := range ls {
		if strings.EqualFold(x, l) {
			return true
		}
	}
	return false
}

func (b *Bridge) get(w http.ResponseWriter, r *http.Request) {
	d := b.net.byName(r.PathValue("name"))
	if d == nil {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no device %q in the RADKit inventory", r.PathValue("name")))
		return
	}
	writeJSON(w, http.StatusOK, toJSON(d, true))
}

func (b *Bridge) exec(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Commands []string `json:"commands"`
		TimeoutS int      `json:"timeout_s"`
		MaxLines int      `json:"max_lines"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "the body must be {commands, timeout_s, max_lines}: "+err.Error())
		return
	}
	switch {
	case len(req.Commands) == 0 || len(req.Commands) > 20:
		writeError(w, http.StatusBadRequest, "bad_request", "commands must hold 1 to 20 commands")
		return
	case req.TimeoutS < 0 || req.TimeoutS > 300:
		writeError(w, http.StatusBadRequest, "bad_request", "timeout_s must be 1 to 300")
		return
	case req.MaxLines < 0 || req.MaxLines > 20000:
		writeError(w, http.StatusBadRequest, "bad_request", "max_lines must be 1 to 20000")
		return
	}
	if req.TimeoutS == 0 {
		req.TimeoutS = 30
	}
	if req.MaxLines == 0 {
		req.MaxLines = 1000
	}
	cmds := make([]string, len(req.Commands))
	for i, c := range req.Commands {
		n, err := devicecmd.Check(c)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, "refused", err.Error())
			return
		}
		cmds[i] = n
	}
	d := b.net.byName(r.PathValue("name"))
	if d == nil {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no device %q in the RADKit inventory", r.PathValue("name")))
		return
	}
	if d.Unreachable {
		writeError(w, http.StatusBadGateway, "device_unreachable", fmt.Sprintf("the RADKit service could not open a session to %s (%s): connection timed out", d.Name, d.Host))
		return
	}
	j := &bridgeJob{done: make(chan struct{})}
	go b.run(d, cmds, time.Duration(req.TimeoutS)*time.Second, req.MaxLines, j)
	select {
	case <-j.done:
		writeJSON(w, http.StatusOK, j.result)
		return
	case <-time.After(b.opts.SyncWait):
	}
	b.mu.Lock()
	b.seq++
	id := fmt.Sprintf("job-%06d", b.seq)
	b.jobs[id] = j
	b.mu.Unlock()
	w.Header().Set("Location", "/v1/jobs/"+id)
	writeJSON(w, http.StatusAccepted, map[string]string{"job_id": id, "status": "running"})
}

func (b *Bridge) run(d *Device, cmds []string, timeout time.Duration, maxLines int, j *bridgeJob) {
	b.mu.Lock()
	b.active[d.Name]++
	b.maxActive[d.Name] = max(b.maxActive[d.Name], b.active[d.Name])
	delay := b.delays[d.Name]
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.active[d.Name]--
		b.mu.Unlock()
		close(j.done)
	}()
	j.result.Device = d.Name
	for _, c := range cmds {
		if delay > timeout {
			time.Sleep(timeout)
			j.result.Results = append(j.result.Results, commandResult{Command: c, Status: "timeout",
				Error: fmt.Sprintf("no answer from %s within %s", d.Name, timeout)})
			continue
		}
		time.Sleep(delay)
		out, lines, cut := Truncate(b.net.run(d, c, b.opts.Now()), maxLines)
		j.result.Results = append(j.result.Results, commandResult{Command: c, Status: "ok", Output: out, Lines: lines, Truncated: cut})
	}
}

func (b *Bridge) job(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	j := b.jobs[r.PathValue("id")]
	b.mu.Unlock()
	if j == nil {
		writeError(w, http.StatusNotFound, "not_found", "no such job (unknown, or finished more than 10 minutes ago)")
		return
	}
	select {
	case <-j.done:
		writeJSON(w, http.StatusOK, map[string]any{"job_id": r.PathValue("id"), "status": "done", "result": j.result})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"job_id": r.PathValue("id"), "status": "running"})
	}
}

// Truncate keeps the first limit lines of out: the kept text, out's line count, whether it cut.
func Truncate(out string, limit int) (string, int, bool) {
	out = strings.TrimRight(out, "\n")
	if out == "" {
		return "", 0, false
	}
	ls := bytes.Count([]byte(out), []byte("\n")) + 1
	if ls <= limit {
		return out + "\n", ls, false
	}
	return strings.Join(strings.SplitN(out, "\n", limit+1)[:limit], "\n") + "\n", ls, true
}

// Package restbridge is Gatehouse's REST bridge: an HTTP server for clients that do not speak
// MCP (ticketing automations, scripts, CI jobs), which the edge routes /api/v1/mcp/… to after
// deciding each request exactly as the same MCP message (docs/architecture.md, security 30).
// It calls the adapters as an MCP client (mark3labs/mcp-go, streamable HTTP) directly over the
// mesh, passing on only the identity headers the edge set. See README.md for the design.
//
//	POST /api/v1/mcp/{server}/tools/{tool}   {"arguments": {...}} → {"status": "success", "result": …, "server", "tool"}
//	GET  /api/v1/mcp/{server}/tools          the tools the edge named in x-gatehouse-tools, with their schemas
//	GET, DELETE /api/v1/mcp/{server}/tasks/{id}  a long-running call's task: status and result, or cancel (tasks.go)
//	GET  /api/v1/openapi.json                the OpenAPI 3.1 document (openapi.json, generated)
package restbridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/mcpmsg"
	"github.com/gatehouse-mcp/gatehouse/internal/tracing"
)

// Defaults.
const (
	// DefaultMaxBodyBytes is the edge's default authz.max_body_bytes: the bridge never needs
	// to read more than the edge let through.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultCallTimeout bounds one tool call (the edge's default route timeout).
	DefaultCallTimeout = 60 * time.Second
	// retryAfterSeconds is the Retry-After of 502 and 503 answers.
	retryAfterSeconds = 5
)

// Options configure a Bridge.
type Options struct {
	// Upstreams maps server names to their adapters' base URLs (MCP at <url>/mcp), reached
	// directly, not through the edge.
	Upstreams map[string]string
	// Version is the bridge's, sent as its MCP client version.
	Version string
	Log     zerolog.Logger
	// Registry receives the metrics; nil makes a fresh one.
	Registry *prometheus.Registry
	// MaxBodyBytes is the largest request body read (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// CallTimeout bounds one tool call (default DefaultCallTimeout).
	CallTimeout time.Duration
	// HTTPClient reaches the adapters; nil is a pooled client sized for many concurrent calls.
	HTTPClient *http.Client
	// Idempotency store bounds (defaults: 24 h, 10,000 keys, 64 MiB).
	IdempotencyTTL        time.Duration
	IdempotencyMaxEntries int
	IdempotencyMaxBytes   int
	// IdempotencyRedis, a redis:// or rediss:// URL, keeps the first answers in Redis, shared
	// by every replica; without it each replica keeps its own in memory (then bounded by
	// IdempotencyMaxEntries and IdempotencyMaxBytes).
	IdempotencyRedis string
	// Now is the clock (tests).
	Now func() time.Time
	// Document replaces the embedded OpenAPI document (tests).
	Document []byte
}

// Bridge is the REST bridge: an http.Handler.
type Bridge struct {
	opts      Options
	log       zerolog.Logger
	upstreams map[string]*upstream
	published *published
	doc       []byte
	idem      idempotencyStore
	metrics   *metrics
	registry  *prometheus.Registry
	mux       *http.ServeMux
}

// New returns a bridge for the given adapters.
func New(opts Options) (*Bridge, error) {
	if len(opts.Upstreams) == 0 {
		return nil, errors.New("no upstreams: the bridge needs at least one adapter (server=url)")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.IdempotencyTTL <= 0 {
		opts.IdempotencyTTL = DefaultIdempotencyTTL
	}
	if opts.IdempotencyMaxEntries <= 0 {
		opts.IdempotencyMaxEntries = DefaultIdempotencyMaxEntries
	}
	if opts.IdempotencyMaxBytes <= 0 {
		opts.IdempotencyMaxBytes = DefaultIdempotencyMaxBytes
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: tracing.Transport(&http.Transport{
			Proxy:               nil, // adapters are reached directly, over the mesh
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   false,
		}, "adapter")}
	}
	raw := opts.Document
	if raw == nil {
		raw = document
	}
	pub, err := loadDocument(raw)
	if err != nil {
		return nil, err
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	b := &Bridge{opts: opts, log: opts.Log.With().Str("gatehouse.server", "rest-bridge").Logger(),
		upstreams: map[string]*upstream{}, published: pub, registry: reg, metrics: newMetrics(reg),
		idem: memStore{newIdemStore(opts.IdempotencyTTL, opts.IdempotencyMaxEntries, opts.IdempotencyMaxBytes, opts.Now)}}
	if opts.IdempotencyRedis != "" {
		// A claim outlives the longest call, so a slow first call is never run twice.
		if b.idem, err = newRedisStore(opts.IdempotencyRedis, opts.IdempotencyTTL, opts.CallTimeout+time.Minute, opts.Now); err != nil {
			return nil, err
		}
	}
	served := map[string]bool{}
	for name, base := range opts.Upstreams {
		if err := checkUpstream(name, base); err != nil {
			return nil, err
		}
		served[name] = true
		b.upstreams[name] = &upstream{server: name, endpoint: strings.TrimRight(base, "/") + contract.AdapterPath,
			http: opts.HTTPClient, version: ProtocolVersion, clientVersion: opts.Version, now: opts.Now, metrics: b.metrics}
	}
	if b.doc, err = pub.forServers(served); err != nil {
		return nil, err
	}
	b.mux = http.NewServeMux()
	b.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	b.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ready\n") })
	b.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return b, nil
}

// Servers lists the servers the bridge calls, sorted.
func (b *Bridge) Servers() []string {
	names := make([]string, 0, len(b.upstreams))
	for n := range b.upstreams {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Close drops the clients to the adapters.
func (b *Bridge) Close() {
	for _, u := range b.upstreams {
		u.close()
	}
	_ = b.idem.close()
}

// ServeHTTP routes a request. The REST paths are matched on the path as sent (escaped), not
// through http.ServeMux, which would clean "..", redirect, or decode "%2F" first.
func (b *Bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if d := r.Header.Get(contract.HeaderDecisionID); d != "" {
		w.Header().Set(contract.HeaderDecisionID, d)
	}
	switch {
	case path == contract.RESTOpenAPIPath:
		serveDocument(b.doc)(w, r)
	case strings.HasPrefix(path, contract.RESTPrefix):
		b.serveREST(w, r, path)
	case path == "/healthz" || path == "/readyz" || path == "/metrics":
		b.mux.ServeHTTP(w, r)
	default:
		problemResponse(&problem{status: http.StatusNotFound, detail: fmt.Sprintf("nothing is served at %s: the REST bridge serves %s<server>/tools/<tool>", path, contract.RESTPrefix)},
			r.Header.Get(contract.HeaderDecisionID), "", "").write(w)
	}
}

// toolName is what MCP allows in a tool name (2025-11-25: 1 to 128 of A-Z a-z 0-9 _ - .).
var toolName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

func (b *Bridge) serveREST(w http.ResponseWriter, r *http.Request, path string) {
	start := time.Now()
	id := identityOf(r)
	server, tool, ok := contract.ParseRESTPath(path)
	kind, taskID := "call", ""
	if ok && tool == "" {
		kind = "list"
	}
	if !ok {
		if server, taskID, ok = contract.ParseRESTTaskPath(path); ok {
			kind = "task"
		}
	}
	var resp *response
	replayed := false
	switch {
	case !ok:
		resp = problemResponse(&problem{status: http.StatusNotFound,
			detail: fmt.Sprintf("%s is not a REST bridge path: POST %s<server>/tools/<tool>, GET %s<server>/tools, or GET or DELETE %s<server>/tasks/<task id>",
				path, contract.RESTPrefix, contract.RESTPrefix, contract.RESTPrefix)},
			id.decisionID, "", "")
	case b.upstreams[server] == nil:
		resp = problemResponse(&problem{status: http.StatusNotFound,
			detail: fmt.Sprintf("no server %q behind the REST bridge (it serves %s)", server, strings.Join(b.Servers(), ", "))},
			id.decisionID, server, tool)
	case kind == "list":
		resp = b.list(r, b.upstreams[server], id)
	case kind == "task":
		resp = b.task(r, b.upstreams[server], taskID, id)
	case tool == "." || tool == ".." || !toolName.MatchString(tool):
		resp = problemResponse(&problem{status: http.StatusNotFound, detail: fmt.Sprintf("%q is not a tool name", tool)}, id.decisionID, server, tool)
	default:
		resp, replayed = b.call(r, b.upstreams[server], tool, id)
	}
	resp.write(w)

	label := server
	if b.upstreams[server] == nil {
		label = "other"
	}
	b.metrics.requests.WithLabelValues(label, kind, fmt.Sprint(resp.status)).Inc()
	b.metrics.duration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	ev, outcome := b.log.Info(), "success"
	if resp.status >= 400 {
		outcome = "failure"
		if resp.status >= 500 {
			ev = b.log.Warn()
		}
	}
	ev.Str("event.kind", "event").Str("event.action", "rest-"+kind).Str("event.outcome", outcome).
		Int("http.response.status_code", resp.status).Str("http.request.method", r.Method).
		Str("user.id", id.subject).Str("gatehouse.decision_id", id.decisionID).
		Str("gatehouse.rest_server", server).Str("gatehouse.tool", tool).Bool("gatehouse.idempotent_replay", replayed).
		Int64("event.duration", time.Since(start).Nanoseconds()).Msg("REST bridge request")
}

// list answers GET …/tools: the tools the edge named in x-gatehouse-tools (decided by the
// policy's listing query for this caller), with their definitions from the adapter's
// tools/list. A tool not named is never shown; without the header nothing is (fail closed).
func (b *Bridge) list(r *http.Request, up *upstream, id identity) *response {
	if r.Method != http.MethodGet {
		return problemResponse(&problem{status: http.StatusMethodNotAllowed, detail: "the tool list takes GET", allow: http.MethodGet}, id.decisionID, up.server, "")
	}
	allowed := allowedTools(r.Header.Values(contract.HeaderTools))
	out := struct {
		Server string       `json:"server"`
		Tools  []listedTool `json:"tools"`
	}{Server: up.server, Tools: []listedTool{}}
	if len(allowed) == 0 {
		return jsonResponse(http.StatusOK, out)
	}
	ctx, cancel := context.WithTimeout(r.Context(), b.opts.CallTimeout)
	defer cancel()
	defs, err := up.listTools(ctx, id)
	if err != nil {
		resp, _ := b.failure(up.server, "", id.decisionID, err)
		return resp
	}
	for _, name := range allowed {
		d, ok := defs[name]
		if !ok {
			continue
		}
		pub := b.published.tools[up.server][name]
		if pub.digest != "" {
			if got, err := catalog.Digest(d.raw); err != nil || got != pub.digest {
				// As the edge's response side does for MCP lists: a definition that is not
				// the pinned one is not shown.
				b.log.Warn().Str("event.action", "tool-definition-mismatch").Str("gatehouse.rest_server", up.server).
					Str("gatehouse.tool", name).Str("gatehouse.digest", got).Str("gatehouse.pinned_digest", pub.digest).
					Msg("tool definition differs from its pin; not listed")
				continue
			}
		}
		out.Tools = append(out.Tools, listedTool{Name: name, Path: contract.RESTPath(up.server, name), Action: pub.action,
			Title: d.Title, Description: d.Description, Annotations: d.Annotations, InputSchema: d.InputSchema, OutputSchema: d.OutputSchema})
	}
	return jsonResponse(http.StatusOK, out)
}

type listedTool struct {
	Name         string `json:"name"`
	Path         string `json:"path"`
	Action       string `json:"action,omitempty"`
	Title        string `json:"title,omitempty"`
	Description  string `json:"description,omitempty"`
	Annotations  any    `json:"annotations,omitempty"`
	InputSchema  any    `json:"inputSchema"`
	OutputSchema any    `json:"outputSchema,omitempty"`
}

// allowedTools reads x-gatehouse-tools: comma-separated names, sorted, without repeats.
func allowedTools(values []string) []string {
	seen := map[string]bool{}
	var names []string
	for _, v := range values {
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" && !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names
}

// call answers POST …/tools/{tool}; replayed is true when the answer came from the
// idempotency store.
func (b *Bridge) call(r *http.Request, up *upstream, tool string, id identity) (resp *response, replayed bool) {
	fail := func(p *problem) *response { return problemResponse(p, id.decisionID, up.server, tool) }
	if r.Method != http.MethodPost {
		return fail(&problem{status: http.StatusMethodNotAllowed, detail: "a tool call takes POST", allow: http.MethodPost}), false
	}
	if r.ContentLength > b.opts.MaxBodyBytes {
		return fail(&problem{status: http.StatusRequestEntityTooLarge, detail: fmt.Sprintf("the body is over %d bytes", b.opts.MaxBodyBytes)}), false
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, b.opts.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return fail(&problem{status: http.StatusRequestEntityTooLarge, detail: fmt.Sprintf("the body is over %d bytes", b.opts.MaxBodyBytes)}), false
		}
		return fail(&problem{status: http.StatusBadRequest, detail: "the body could not be read: " + err.Error()}), false
	}
	// The edge's own parser: the same strict JSON rules and the same {"arguments": {...}}
	// shape, so the bridge can never read a body differently from the policy's decision.
	msg, err := mcpmsg.ParseREST(http.MethodPost, r.Header.Get("Content-Type"), tool, body)
	if err != nil {
		var pe *mcpmsg.Error
		if !errors.As(err, &pe) {
			return fail(&problem{status: http.StatusBadRequest, detail: err.Error()}), false
		}
		return fail(&problem{status: pe.Status, detail: pe.Message, allow: pe.Allow}), false
	}

	ctx := r.Context()
	var entry any
	if key := r.Header.Get(IdempotencyHeader); key != "" && !b.published.isRead(up.server, tool) {
		key, err := checkKey(key)
		if err != nil {
			return fail(&problem{status: http.StatusBadRequest, detail: err.Error()}), false
		}
		fp, err := fingerprint(msg.Arguments)
		if err != nil {
			return fail(&problem{status: http.StatusBadRequest, detail: "the arguments could not be encoded: " + err.Error()}), false
		}
		ticket, state, first, err := b.idem.begin(ctx, idemScope{subject: id.subject, server: up.server, tool: tool, key: key}, fp)
		if err != nil {
			// Without the store a retry could run the call twice: refuse rather than guess.
			b.log.Warn().Err(err).Str("gatehouse.rest_server", up.server).Msg("idempotency store unavailable")
			return fail(&problem{status: http.StatusServiceUnavailable, retryAfter: retryAfterSeconds,
				detail: fmt.Sprintf("the %s store is unavailable, so the call was not made; retry shortly with the same key", IdempotencyHeader)}), false
		}
		switch state {
		case idemReplay:
			b.metrics.replays.Inc()
			replay := &response{status: first.status, header: first.header.Clone(), body: first.body}
			if replay.header == nil {
				replay.header = http.Header{}
			}
			replay.header.Set(ReplayedHeader, "true")
			return replay, true
		case idemMismatch:
			return fail(&problem{status: http.StatusUnprocessableEntity,
				detail: fmt.Sprintf("the %s %q was already used for a call of %s with other arguments; use a new key for a new call", IdempotencyHeader, key, tool)}), false
		case idemRunning:
			return fail(&problem{status: http.StatusConflict, retryAfter: 1,
				detail: fmt.Sprintf("the first call with %s %q has not finished yet; retry shortly to get its answer", IdempotencyHeader, key)}), false
		}
		entry = ticket
		// The first call of a key runs to its end even if the client goes away, so that its
		// retry gets the answer instead of an unknown outcome.
		ctx = context.WithoutCancel(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.CallTimeout)
	defer cancel()
	var answered bool
	if b.published.tools[up.server][tool].task {
		resp, answered = b.callAsTask(ctx, up, tool, msg.Arguments, id)
	} else if res, err := up.callTool(ctx, tool, msg.Arguments, id); err != nil {
		resp, answered = b.failure(up.server, tool, id.decisionID, err)
	} else {
		resp, answered = b.result(up.server, tool, res, id.decisionID), true
	}
	if entry != nil {
		// Keep only answers the adapter gave; after a failure to reach it, a retry runs again.
		if err := b.idem.finish(context.WithoutCancel(ctx), entry, resp, answered); err != nil {
			b.log.Warn().Err(err).Str("gatehouse.rest_server", up.server).Str("gatehouse.tool", tool).
				Msg("the answer could not be kept for retries with its Idempotency-Key")
		}
	}
	return resp, false
}

// result turns a tool's answer into the bridge's.
func (b *Bridge) result(server, tool string, res *mcp.CallToolResult, decisionID string) *response {
	text := resultText(res)
	if res.IsError {
		if p, ok := argumentProblem(tool, text); ok {
			return problemResponse(p, decisionID, server, tool)
		}
		if text == "" {
			text = "the tool reported an error without a message"
		}
		return problemResponse(&problem{status: http.StatusUnprocessableEntity, detail: text}, decisionID, server, tool)
	}
	var result any = text
	if res.StructuredContent != nil {
		result = res.StructuredContent
	}
	return jsonResponse(http.StatusOK, struct {
		Status string `json:"status"`
		Result any    `json:"result"`
		Server string `json:"server"`
		Tool   string `json:"tool"`
	}{"success", result, server, tool})
}

func resultText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			parts = append(parts, t.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// failure maps an error calling an adapter to an answer; answered is true when the adapter
// itself gave it (a JSON-RPC error), false when the bridge could not tell what happened.
func (b *Bridge) failure(server, tool, did string, err error) (*response, bool) {
	var un *unavailable
	switch {
	case errors.As(err, &un), isTransport(err) && refused(err):
		b.log.Warn().Err(err).Str("gatehouse.rest_server", server).Msg("adapter unavailable")
		return problemResponse(&problem{status: http.StatusServiceUnavailable, retryAfter: retryAfterSeconds,
			detail: fmt.Sprintf("the %s adapter is unavailable; try again shortly", server)}, did, server, tool), false
	case isTransport(err):
		b.log.Warn().Err(err).Str("gatehouse.rest_server", server).Str("gatehouse.tool", tool).Msg("adapter call failed")
		detail := fmt.Sprintf("the %s adapter did not answer the call; try again shortly", server)
		if errors.Is(err, context.DeadlineExceeded) {
			detail = fmt.Sprintf("the %s adapter did not answer within %s", server, b.opts.CallTimeout)
		}
		if tool != "" {
			detail += " (a write may or may not have happened: retry with the same Idempotency-Key, or check before repeating it)"
		}
		return problemResponse(&problem{status: http.StatusBadGateway, retryAfter: retryAfterSeconds, detail: detail}, did, server, tool), false
	case errors.Is(err, mcp.ErrInvalidParams) && strings.Contains(err.Error(), "not found"):
		return problemResponse(&problem{status: http.StatusNotFound, detail: fmt.Sprintf("the %s adapter has no tool %q", server, tool)}, did, server, tool), true
	case errors.Is(err, mcp.ErrInvalidParams):
		return problemResponse(&problem{status: http.StatusBadRequest, detail: err.Error()}, did, server, tool), true
	default:
		b.log.Warn().Err(err).Str("gatehouse.rest_server", server).Str("gatehouse.tool", tool).Msg("adapter answered an error")
		return problemResponse(&problem{status: http.StatusBadGateway, retryAfter: retryAfterSeconds,
			detail: fmt.Sprintf("the %s adapter answered with an error: %v", server, err)}, did, server, tool), false
	}
}

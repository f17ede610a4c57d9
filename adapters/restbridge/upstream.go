package restbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
)

// ProtocolVersion is the MCP revision the bridge speaks to adapters: the newest that every
// adapter kit server serves with an initialize handshake. The kit's servers are stateless,
// so one initialized client per adapter serves every call, concurrently.
const ProtocolVersion = "2025-11-25"

// Timing of the clients to adapters.
const (
	initTimeout = 10 * time.Second
	// initBackoff: after a failed initialize, calls fail fast (503) for this long instead of
	// each waiting for its own attempt against an adapter that is down.
	initBackoff = time.Second
	// toolsTTL: how long an adapter's tools/list is reused for listings.
	toolsTTL = 30 * time.Second
)

// identity is what the edge asserted about the caller and decided for the call: the
// x-gatehouse-* headers it set (it removes every client-sent one), the only caller data the
// bridge passes on to an adapter. Besides the subject, email and decision id these are the
// policy's headers for the adapter (roles, a deployment's approval requirement, …), which an
// adapter such as the deployments server needs as much over REST as over MCP. The REST tool
// listing's x-gatehouse-tools is the bridge's own and is not passed on.
type identity struct {
	subject, email, decisionID string
	edge                       http.Header
}

func identityOf(r *http.Request) identity {
	id := identity{
		subject:    r.Header.Get(contract.HeaderSubject),
		email:      r.Header.Get(contract.HeaderEmail),
		decisionID: r.Header.Get(contract.HeaderDecisionID),
		edge:       http.Header{},
	}
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, contract.HeaderPrefix) && lk != contract.HeaderTools {
			id.edge[k] = vs
		}
	}
	return id
}

func (id identity) header() http.Header { return id.edge.Clone() }

// upstream is one adapter: an MCP client (mcp-go, streamable HTTP) initialized once and
// shared by every call, replaced after a transport failure, and the adapter's tool list.
type upstream struct {
	server   string
	endpoint string // <base>/mcp
	http     *http.Client
	version  string
	// clientVersion is the bridge's own version, in initialize's clientInfo.
	clientVersion string
	now           func() time.Time
	metrics       *metrics

	cur      atomic.Pointer[client.Client]
	ids      atomic.Int64 // JSON-RPC ids of the bridge's own raw requests
	mu       sync.Mutex   // serializes initialization
	failedAt time.Time
	failErr  error

	toolsMu sync.Mutex
	tools   map[string]toolDef
	toolsAt time.Time
}

// unavailable is an adapter that cannot be reached or initialized: 503 with Retry-After.
type unavailable struct{ err error }

func (u *unavailable) Error() string { return u.err.Error() }
func (u *unavailable) Unwrap() error { return u.err }

// client returns the shared initialized client, initializing it if there is none.
func (u *upstream) client(ctx context.Context) (*client.Client, error) {
	if c := u.cur.Load(); c != nil {
		return c, nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if c := u.cur.Load(); c != nil {
		return c, nil
	}
	if !u.failedAt.IsZero() && u.now().Sub(u.failedAt) < initBackoff {
		return nil, &unavailable{u.failErr}
	}
	ictx, cancel := context.WithTimeout(ctx, initTimeout)
	defer cancel()
	c, err := u.connect(ictx)
	if err != nil {
		if ctx.Err() == nil { // not the caller giving up
			u.failedAt, u.failErr = u.now(), err
		}
		u.metrics.initializations.WithLabelValues(u.server, "error").Inc()
		return nil, &unavailable{err}
	}
	u.metrics.initializations.WithLabelValues(u.server, "success").Inc()
	u.failedAt, u.failErr = time.Time{}, nil
	u.cur.Store(c)
	return c, nil
}

func (u *upstream) connect(ctx context.Context) (*client.Client, error) {
	tr, err := transport.NewStreamableHTTP(u.endpoint,
		transport.WithHTTPBasicClient(u.http),
		transport.WithHTTPLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return nil, err
	}
	c := client.NewClient(tr, client.WithProtocolVersion(u.version))
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = u.version
	req.Params.ClientInfo = mcp.Implementation{Name: "gatehouse-rest-bridge", Version: u.clientVersion}
	if _, err := c.Initialize(ctx, req); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("initialize %s: %w", u.endpoint, err)
	}
	return c, nil
}

// reset drops c, so that the next call initializes a new client. Calls still running on c
// keep it until they end.
func (u *upstream) reset(c *client.Client) {
	if u.cur.CompareAndSwap(c, nil) {
		time.AfterFunc(5*time.Minute, func() { _ = c.Close() })
	}
}

// close ends the current client (the bridge is stopping).
func (u *upstream) close() {
	if c := u.cur.Swap(nil); c != nil {
		_ = c.Close()
	}
}

// callTool calls one tool with the caller's identity headers.
func (u *upstream) callTool(ctx context.Context, tool string, args map[string]any, id identity) (*mcp.CallToolResult, error) {
	c, err := u.client(ctx)
	if err != nil {
		return nil, err
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	req.Header = id.header()
	res, err := c.CallTool(ctx, req)
	if err != nil {
		u.failed(c, err)
	}
	return res, err
}

// send sends one JSON-RPC request with the caller's identity headers through the shared
// client's transport and returns its result: for what mcp-go's client has no call for (a
// task-augmented tools/call answers a CreateTaskResult, which its CallTool would read as an
// empty tool result) and for raw results. A JSON-RPC error is returned as mcp-go's error.
func (u *upstream) send(ctx context.Context, method string, params any, id identity) (json.RawMessage, error) {
	c, err := u.client(ctx)
	if err != nil {
		return nil, err
	}
	// Ids apart from the client's own.
	req := transport.JSONRPCRequest{JSONRPC: mcp.JSONRPC_VERSION, ID: mcp.NewRequestId(1<<40 + u.ids.Add(1)),
		Method: method, Params: params, Header: id.header()}
	resp, err := c.GetTransport().SendRequest(ctx, req)
	if err != nil {
		err = transport.NewError(err)
		u.failed(c, err)
		return nil, err
	}
	if resp.Error != nil {
		return nil, resp.Error.AsError()
	}
	return resp.Result, nil
}

// listTools returns the adapter's tool definitions by name, exactly as its tools/list serves
// them (the raw JSON, as the edge's response side sees and pins them: mcp-go's parsed Tool
// would drop members such as an empty "required"), reused for toolsTTL (an adapter's tools
// change only when it is redeployed).
func (u *upstream) listTools(ctx context.Context, id identity) (map[string]toolDef, error) {
	u.toolsMu.Lock()
	defer u.toolsMu.Unlock()
	if u.tools != nil && u.now().Sub(u.toolsAt) < toolsTTL {
		return u.tools, nil
	}
	tools := map[string]toolDef{}
	cursor := ""
	for page := 0; ; page++ {
		if page == 100 {
			return nil, fmt.Errorf("tools/list of %s: more than 100 pages", u.server)
		}
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		result, err := u.send(ctx, string(mcp.MethodToolsList), params, id)
		if err != nil {
			return nil, err
		}
		var res struct {
			Tools      []json.RawMessage `json:"tools"`
			NextCursor string            `json:"nextCursor"`
		}
		if err := json.Unmarshal(result, &res); err != nil {
			return nil, transport.NewError(fmt.Errorf("tools/list of %s: %w", u.server, err))
		}
		for _, raw := range res.Tools {
			d, err := parseToolDef(raw)
			if err != nil {
				return nil, transport.NewError(fmt.Errorf("tools/list of %s: %w", u.server, err))
			}
			tools[d.Name] = d
		}
		if res.NextCursor == "" {
			break
		}
		cursor = res.NextCursor
	}
	u.tools, u.toolsAt = tools, u.now()
	return tools, nil
}

// failed drops c when err means mcp-go's client cannot be used again: after a 404 its
// transport ends the session for good (ErrSessionTerminated) and refuses every later
// request. Other failures (a refused connection, a 5xx, a bad answer) leave a client to a
// stateless adapter usable, so it is kept.
func (u *upstream) failed(c *client.Client, err error) {
	if errors.Is(err, transport.ErrSessionTerminated) || errors.Is(err, transport.ErrLegacySSEServer) {
		u.reset(c)
	}
}

func isTransport(err error) bool {
	var te *transport.Error
	return errors.As(err, &te)
}

// refused reports a connection that could not be made at all (the call never left).
func refused(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED)
}

// ParseUpstreams reads "server=url,server=url" (GATEHOUSE_REST_UPSTREAMS): each server a
// DNS label, each URL an http or https base URL without a path (MCP is at <url>/mcp).
func ParseUpstreams(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, raw, ok := strings.Cut(item, "=")
		name, raw = strings.TrimSpace(name), strings.TrimSpace(raw)
		if !ok || name == "" || raw == "" {
			return nil, fmt.Errorf("upstream %q: want server=url", item)
		}
		if err := checkUpstream(name, raw); err != nil {
			return nil, err
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("upstream %q is listed twice", name)
		}
		out[name] = strings.TrimRight(raw, "/")
	}
	if len(out) == 0 {
		return nil, errors.New("no upstreams: want server=url[,server=url…]")
	}
	return out, nil
}

func checkUpstream(name, raw string) error {
	if !dnsLabel(name) {
		return fmt.Errorf("upstream %q: the server name must be a lower-case DNS label", name)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("upstream %s=%s: want an http(s) base URL without a path, such as http://%s:8080", name, raw, name)
	}
	return nil
}

func dnsLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// FormatUpstreams renders upstreams in ParseUpstreams' form, sorted.
func FormatUpstreams(upstreams map[string]string) string {
	names := make([]string, 0, len(upstreams))
	for n := range upstreams {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + upstreams[n]
	}
	return strings.Join(parts, ",")
}

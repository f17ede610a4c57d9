package radkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/devicecmd"
)

// BridgeSecretField is the field of the secret "radkit" that holds the bridge's bearer token.
const BridgeSecretField = "bridge_token"

// Bridge is a DeviceAccess over the RADKit bridge contract (docs/radkit-bridge.md): JSON over
// HTTP(S) with a bearer token from the secret "radkit" (field bridge_token). Reads and command
// runs are retried on 429 and 503 (a show command can run twice without harm); a run that takes
// longer than the bridge waits comes back as a job, which is polled until it is done or the
// call's deadline comes.
type Bridge struct {
	api     *kit.Client
	secrets kit.SecretSource
	limit   *limiter
	// PollInterval is how often a running job is asked for (default 500ms).
	PollInterval time.Duration
}

// NewBridge returns a client for the bridge at base (https://radkit-bridge.example:8443).
// perDevice bounds concurrent command runs per device (0: DefaultPerDevice).
func NewBridge(base string, secrets kit.SecretSource, perDevice int, m *kit.Metrics, log zerolog.Logger) (*Bridge, error) {
	b := &Bridge{secrets: secrets, limit: newLimiter(perDevice), PollInterval: 500 * time.Millisecond}
	api, err := kit.NewClient(ServerName, "RADKit bridge", base, b, m, log)
	if err != nil {
		return nil, err
	}
	b.api = api
	return b, nil
}

// API exposes the underlying kit client (timeouts, transport) for configuration.
func (b *Bridge) API() *kit.Client { return b.api }

// Authorize implements kit.Authenticator.
func (b *Bridge) Authorize(ctx context.Context, r *http.Request) error {
	s, err := b.secrets.Get(ctx, ServerName)
	if err != nil {
		return fmt.Errorf("credentials for the RADKit bridge: %w", err)
	}
	tok, err := s.Field(BridgeSecretField)
	if err != nil {
		return fmt.Errorf("credentials for the RADKit bridge: %w", err)
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Refresh implements kit.Authenticator: the bridge refused the token, which may have been
// rotated; read the secret again.
func (b *Bridge) Refresh(context.Context) error { b.secrets.Invalidate(ServerName); return nil }

// Ready checks that the bridge answers, accepts the token and is connected to its RADKit
// service (GET /v1/health).
func (b *Bridge) Ready(ctx context.Context) error {
	_, err := b.api.Do(ctx, kit.Request{Method: http.MethodGet, Path: "/v1/health"}, nil)
	return bridgeError(err)
}

type devicesBody struct {
	Devices []Device `json:"devices"`
}

// Devices implements DeviceAccess.
func (b *Bridge) Devices(ctx context.Context, f Filter) ([]Device, error) {
	q := url.Values{}
	for k, v := range map[string]string{"name": f.Name, "device_type": f.Type, "site": f.Site, "label": f.Label} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out devicesBody
	if _, err := b.api.Do(ctx, kit.Request{Method: http.MethodGet, Path: "/v1/devices", Query: q}, &out); err != nil {
		return nil, bridgeError(err)
	}
	return out.Devices, nil
}

// Device implements DeviceAccess.
func (b *Bridge) Device(ctx context.Context, name string) (Device, error) {
	var d Device
	_, err := b.api.Do(ctx, kit.Request{Method: http.MethodGet, Path: "/v1/devices/" + url.PathEscape(name)}, &d)
	if kit.IsStatus(err, http.StatusNotFound) {
		return Device{}, fmt.Errorf("%w: %q (RADKit bridge)", ErrUnknownDevice, name)
	}
	return d, bridgeError(err)
}

// execBody is the exec request of the contract.
type execBody struct {
	Commands []string `json:"commands"`
	TimeoutS int      `json:"timeout_s"`
	MaxLines int      `json:"max_lines"`
}

// execResult is the exec answer of the contract.
type execResult struct {
	Device  string          `json:"device"`
	Results []CommandResult `json:"results"`
}

type job struct {
	JobID  string      `json:"job_id"`
	Status string      `json:"status"` // running, done, failed
	Result *execResult `json:"result,omitempty"`
	Error  *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// Exec implements DeviceAccess.
func (b *Bridge) Exec(ctx context.Context, device string, req ExecRequest) ([]CommandResult, error) {
	for _, c := range req.Commands {
		if n, err := devicecmd.Check(c); err != nil || n != c {
			return nil, fmt.Errorf("refusing to send %q to the bridge: %v", c, err)
		}
	}
	release, err := b.limit.acquire(ctx, device)
	if err != nil {
		return nil, fmt.Errorf("waiting for a session slot on %s: %w", device, err)
	}
	defer release()
	timeout := int((req.Timeout + time.Second - 1) / time.Second)
	path := "/v1/devices/" + url.PathEscape(device) + "/exec"
	resp, err := b.api.Do(ctx, kit.Request{Method: http.MethodPost, Path: path, Idempotent: true,
		Body: execBody{Commands: req.Commands, TimeoutS: max(timeout, 1), MaxLines: req.MaxLines}}, nil)
	if kit.IsStatus(err, http.StatusNotFound) {
		return nil, fmt.Errorf("%w: %q (RADKit bridge)", ErrUnknownDevice, device)
	}
	if err != nil {
		return nil, bridgeError(err)
	}
	if resp.Status == http.StatusAccepted {
		var j job
		if err := json.Unmarshal(resp.Body, &j); err != nil || j.JobID == "" {
			return nil, fmt.Errorf("RADKit bridge: POST %s answered 202 without a job id", path)
		}
		return b.wait(ctx, j.JobID)
	}
	var out execResult
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return nil, fmt.Errorf("RADKit bridge: POST %s: unexpected response body: %v", path, err)
	}
	return out.Results, nil
}

// wait polls a job until it is done, failed, or ctx ends.
func (b *Bridge) wait(ctx context.Context, id string) ([]CommandResult, error) {
	for {
		var j job
		if _, err := b.api.Do(ctx, kit.Request{Method: http.MethodGet, Path: "/v1/jobs/" + url.PathEscape(id)}, &j); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("RADKit bridge job %s was still running when the call's time ran out", id)
			}
			return nil, bridgeError(err)
		}
		switch j.Status {
		case "done":
			if j.Result == nil {
				return nil, fmt.Errorf("RADKit bridge job %s is done but has no result", id)
			}
			return j.Result.Results, nil
		case "failed":
			msg := "no reason given"
			if j.Error != nil {
				msg = j.Error.Message + " (" + j.Error.Code + ")"
			}
			return nil, fmt.Errorf("RADKit bridge job %s failed: %s", id, msg)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("RADKit bridge job %s was still running when the call's time ran out", id)
		case <-time.After(b.PollInterval):
		}
	}
}

// bridgeError rewrites an upstream error whose body is the contract's error shape into a
// sentence: "RADKit bridge: POST /v1/devices/x/exec answered 502 Bad Gateway: device_unreachable: …".
func bridgeError(err error) error {
	var ue *kit.UpstreamError
	if !errors.As(err, &ue) || ue.Detail == "" {
		return err
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(strings.TrimSuffix(ue.Detail, "…")), &body) == nil && body.Error.Message != "" {
		c := *ue
		c.Detail = body.Error.Code + ": " + body.Error.Message
		return &c
	}
	return err
}

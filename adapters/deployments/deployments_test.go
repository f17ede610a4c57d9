package deployments_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/deployments"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
)

var revisions = []string{"2025-06-18", "2025-11-25", "2026-07-28"}

// untouchable is a Client that fails the test when any call reaches Temporal.
type untouchable struct{ t *testing.T }

func (u untouchable) StartWithKey(context.Context, deploy.Request, deploy.Approval, string) (string, error) {
	u.t.Error("a deployment was started")
	return "", nil
}

func (u untouchable) Get(context.Context, string) (deploy.Status, error) {
	u.t.Error("Temporal was queried")
	return deploy.Status{}, nil
}

func (u untouchable) List(context.Context, deploy.Filter) (deploy.Page, error) {
	u.t.Error("Temporal was listed")
	return deploy.Page{}, nil
}

func (u untouchable) Approve(context.Context, string, deploy.Decision) (deploy.Status, error) {
	u.t.Error("an approval was sent")
	return deploy.Status{}, nil
}

func (u untouchable) Reject(context.Context, string, deploy.Decision) (deploy.Status, error) {
	u.t.Error("a rejection was sent")
	return deploy.Status{}, nil
}

func (u untouchable) Cancel(context.Context, string, deploy.Cancellation) (deploy.Status, error) {
	u.t.Error("a cancellation was sent")
	return deploy.Status{}, nil
}

func (u untouchable) Result(context.Context, string) (deploy.Status, error) {
	u.t.Error("Temporal was waited on")
	return deploy.Status{}, nil
}

// serve runs the adapter over c, through deployments.Handler unless bare.
func serve(t *testing.T, c deployments.Client, bare bool) string {
	t.Helper()
	s := kit.NewServer(kit.Options{Name: deployments.ServerName, Version: "test", Logger: zerolog.Nop()})
	deployments.Register(s, c)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	h := deployments.Handler(s)
	if bare {
		h = s.Handler() // the kit's handler alone: no roles, no approval requirement
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL + kit.Path
}

// Every tool as tools/list serves it (names, annotations, schemas) is pinned in
// testdata/toolsnaps, and each declares all four annotations. On 2025-11-25 (and only
// there) start_deployment says it can be called as a task (execution.taskSupport
// "optional"); that listing is pinned in testdata/toolsnaps/2025-11-25.
func TestToolSnapshots(t *testing.T) {
	url := serve(t, &fakeTemporal{}, false)
	for _, v := range revisions {
		c := kittest.Connect(t, url, v, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		res, err := c.ListTools(ctx, mcp.ListToolsRequest{})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, tool := range res.Tools {
			a := tool.Annotations
			if a.ReadOnlyHint == nil || a.DestructiveHint == nil || a.IdempotentHint == nil || a.OpenWorldHint == nil {
				t.Errorf("%s at %s: an annotation is missing: %+v", tool.Name, v, a)
			}
			switch {
			case tool.Name == "start_deployment" && v == "2025-11-25":
				if tool.Execution == nil || tool.Execution.TaskSupport != mcp.TaskSupportOptional {
					t.Errorf("start_deployment at %s: execution %+v, want taskSupport optional", v, tool.Execution)
				}
				kittest.ToolSnaps(t, []mcp.Tool{tool}, "testdata/toolsnaps/2025-11-25")
			case tool.Execution != nil:
				t.Errorf("%s at %s: execution %+v, want none", tool.Name, v, tool.Execution)
			}
		}
		if v == revisions[0] {
			kittest.ToolSnaps(t, res.Tools, "testdata/toolsnaps")
		}
	}
}

// The tools' action classes and destructive hints are what the reference policy decides on:
// approving is a destructive write (MFA), starting a destructive execute (MFA), reading is read.
func TestDeclarations(t *testing.T) {
	s := kit.NewServer(kit.Options{Name: deployments.ServerName, Logger: zerolog.Nop()})
	deployments.Register(s, nil)
	want := map[string]struct {
		action      kit.Action
		destructive kit.Hint
	}{
		"start_deployment":         {kit.Execute, kit.Yes},
		"get_deployment":           {kit.Read, kit.No},
		"list_my_deployments":      {kit.Read, kit.No},
		"list_pending_my_approval": {kit.Read, kit.No},
		"approve_deployment":       {kit.Write, kit.Yes},
		"reject_deployment":        {kit.Write, kit.No},
		"cancel_deployment":        {kit.Write, kit.No},
	}
	got := s.Declared()
	if len(got) != len(want) {
		t.Errorf("%d tools declared, want %d", len(got), len(want))
	}
	for _, d := range got {
		w, ok := want[d.Name]
		if !ok || d.Action != w.action || d.Annotations.Destructive != w.destructive {
			t.Errorf("%s: %s destructive=%v", d.Name, d.Action, d.Annotations.Destructive)
		}
	}
}

var validStart = map[string]any{
	"template_id": "t-1", "template_version": 2, "device_ids": []string{"d-1"},
	"change_window": map[string]any{"start": "2026-11-23T22:00:00Z", "end": "2026-11-23T23:00:00Z"},
}

// Without the policy's approval requirement, or with one it cannot read, nothing starts.
func TestStartFailsClosed(t *testing.T) {
	url := serve(t, untouchable{t}, false)
	identity := map[string]string{"X-Gatehouse-Subject": "nina", "X-Gatehouse-Decision-Id": "dec-1",
		"X-Gatehouse-Roles": "network-engineers"}
	for _, c := range []struct {
		name, header, want string
	}{
		{"missing", "", "x-gatehouse-approval"},
		{"not JSON", "yes", "cannot be read"},
		{"unknown field", `{"required":false,"skip":true}`, "cannot be read"},
		{"no approvers", `{"required":true,"approvers":0,"role":"change-approvers"}`, "1 to 10 approvers"},
		{"too many approvers", `{"required":true,"approvers":11,"role":"change-approvers"}`, "approvers"},
		{"timeout too long", `{"required":true,"approvers":1,"timeout_seconds":99999999}`, "timeout"},
		{"contradiction", `{"required":false,"approvers":2}`, "says no approval is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := map[string]string{}
			for k, v := range identity {
				h[k] = v
			}
			if c.header != "" {
				h["X-Gatehouse-Approval"] = c.header
			}
			cl := kittest.Connect(t, url, revisions[2], h)
			text := kittest.Call(t, cl, "start_deployment", validStart, nil, true)
			if !strings.Contains(text, c.want) || !strings.Contains(text, "not started") {
				t.Errorf("%q", text)
			}
		})
	}
}

// A call without the edge's identity, or an adapter served without Handler, does nothing.
func TestNoIdentityNoAction(t *testing.T) {
	url := serve(t, untouchable{t}, false)
	cl := kittest.Connect(t, url, revisions[1], map[string]string{"X-Gatehouse-Approval": `{"required":false}`})
	for tool, args := range map[string]map[string]any{
		"start_deployment":         validStart,
		"list_my_deployments":      {},
		"list_pending_my_approval": {},
		"get_deployment":           {"workflow_id": "deploy-0123456789abcdef-0123456789ab"},
	} {
		if text := kittest.Call(t, cl, tool, args, nil, true); !strings.Contains(text, "no caller identity") {
			t.Errorf("%s: %q", tool, text)
		}
	}

	bare := serve(t, untouchable{t}, true)
	cl = kittest.Connect(t, bare, revisions[1], map[string]string{"X-Gatehouse-Subject": "nina",
		"X-Gatehouse-Decision-Id": "dec-2", "X-Gatehouse-Approval": `{"required":false}`})
	if text := kittest.Call(t, cl, "start_deployment", validStart, nil, true); !strings.Contains(text, "misconfigured") {
		t.Errorf("%q", text)
	}
}

// Ids that are not deployment ids never reach Temporal.
func TestForeignIDsAreRefused(t *testing.T) {
	url := serve(t, untouchable{t}, false)
	cl := kittest.Connect(t, url, revisions[0], map[string]string{"X-Gatehouse-Subject": "nina", "X-Gatehouse-Decision-Id": "dec-3"})
	for _, id := range []string{"gatehouse-worker-cron", "deploy-0123", "deploy-0123456789abcdef-0123456789ab/../x"} {
		text := kittest.Call(t, cl, "get_deployment", map[string]any{"workflow_id": id}, nil, true)
		if !strings.Contains(text, "not a deployment id") {
			t.Errorf("%s: %q", id, text)
		}
		kittest.Call(t, cl, "approve_deployment", map[string]any{"workflow_id": id, "request_hash": "x"}, nil, true)
	}
}

func TestParseApproval(t *testing.T) {
	a, reasons, err := deployments.ParseApproval(`{"required":true,"approvers":2,"role":"change-approvers","timeout_seconds":14400,"reasons":["it changes core devices (lon-b1-core-01)"]}`)
	if err != nil || a != (deploy.Approval{Required: true, Approvers: 2, Role: "change-approvers", Timeout: 4 * time.Hour}) || len(reasons) != 1 {
		t.Fatalf("%+v %v %v", a, reasons, err)
	}
	a, _, err = deployments.ParseApproval(`{"required":false}`)
	if err != nil || a.Required {
		t.Fatalf("%+v %v", a, err)
	}
	if _, _, err := deployments.ParseApproval(`{"required":true,"approvers":1} {}`); err == nil {
		t.Error("trailing data accepted")
	}
}

func TestMainRefusesBadFlags(t *testing.T) {
	var out, errs strings.Builder
	if code := deployments.Main("test", []string{"--upstream", "x"}, &out, &errs); code != 2 {
		t.Errorf("unknown flag: exit %d", code)
	}
	errs.Reset()
	t.Setenv("GATEHOUSE_INSECURE_NO_MTLS", "")
	if code := deployments.Main("test", []string{"--listen", "127.0.0.1:0"}, &out, &errs); code != 1 ||
		!strings.Contains(errs.String(), "GATEHOUSE_TLS_CLIENT_CA_FILE") {
		t.Errorf("no mTLS and no opt-in: exit %d: %s", code, errs.String())
	}
	errs.Reset()
	if code := deployments.Main("test", []string{"--temporal-tls-cert", "c.pem"}, &out, &errs); code != 1 ||
		!strings.Contains(errs.String(), "both the client certificate and its key") {
		t.Errorf("half a client certificate: exit %d: %s", code, errs.String())
	}
}

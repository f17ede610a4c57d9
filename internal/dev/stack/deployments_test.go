package stack_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/stack"
	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
	"github.com/gatehouse-mcp/gatehouse/workflows/devserver"
)

// A template deployment through the dev edge with real tokens, on a real Temporal: nina (a
// network engineer) starts one on a core device; the policy requires a change approver
// (carl); nina cannot approve her own; carl approves with MFA; the workflow opens the
// ServiceNow change, deploys through Catalyst Center and completes. The copy of the policy
// asks one approver for core devices instead of two (there is one demo approver).
func TestDeploymentThroughTheEdge(t *testing.T) {
	bin := devserver.Bin(t)
	dir := testkit.CopyPolicies(t)
	data, err := os.ReadFile(filepath.Join(dir, "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), `"core_device": {"approvers": 2`, `"core_device": {"approvers": 1`, 1))
	if err := os.WriteFile(filepath.Join(dir, "data.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	// Its Rego tests pin the reference data's two approvers; this copy is for the flow only.
	if err := os.Remove(filepath.Join(dir, "deployments_test.rego")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{PolicyDir: dir, Log: zerolog.Nop(), TemporalBin: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)

	cc := connectTo(t, s, "catalyst-center", "nina", "2025-11-25")
	var devs struct {
		Devices []struct {
			ID string `json:"id"`
		} `json:"devices"`
	}
	structured(t, cc, "list_devices", map[string]any{"hostname": "lon-b1-core-01"}, &devs)
	var tmpls struct {
		Templates []catalystcenter.TemplateSummary `json:"templates"`
	}
	structured(t, cc, "list_templates", map[string]any{}, &tmpls)
	template := ""
	for _, tm := range tmpls.Templates {
		if tm.Name == "NTP-Servers" {
			template = tm.TemplateID
		}
	}
	if len(devs.Devices) != 1 || template == "" {
		t.Fatalf("devices %+v, template %q", devs, template)
	}

	nina := connectTo(t, s, "deployments", "nina", "2025-11-25")
	now := time.Now().UTC()
	var started struct {
		WorkflowID  string `json:"workflow_id"`
		RequestHash string `json:"request_hash"`
		Approval    struct {
			Required bool     `json:"required"`
			Role     string   `json:"role"`
			Reasons  []string `json:"reasons"`
		} `json:"approval"`
	}
	structured(t, nina, "start_deployment", map[string]any{
		"template_id": template, "template_version": 2, "device_ids": []string{devs.Devices[0].ID},
		"parameters":    map[string]any{"ntp_primary": "10.0.0.1", "ntp_secondary": "10.0.0.2", "timezone": "UTC"},
		"change_window": map[string]any{"start": now.Add(-time.Minute).Format(time.RFC3339), "end": now.Add(2 * time.Hour).Format(time.RFC3339)},
		"summary":       "NTP servers for the core",
	}, &started)
	if !started.Approval.Required || started.Approval.Role != "change-approvers" || !strings.Contains(strings.Join(started.Approval.Reasons, ";"), "core devices") {
		t.Fatalf("start: %+v", started)
	}
	get := func(user string) string {
		t.Helper()
		var st struct {
			State deploy.State `json:"state"`
		}
		structured(t, connectTo(t, s, "deployments", user, "2025-11-25"), "get_deployment", map[string]any{"workflow_id": started.WorkflowID}, &st)
		return string(st.State)
	}
	wait := func(want deploy.State) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for got := get("nina"); got != string(want); got = get("nina") {
			if time.Now().After(deadline) || deploy.State(got).Terminal() {
				t.Fatalf("deployment is %s, want %s", got, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	wait(deploy.StateAwaitingApproval)

	// nina may not approve (no change-approvers grant: the edge refuses it).
	denied(t, nina, "approve_deployment", map[string]any{"workflow_id": started.WorkflowID, "request_hash": started.RequestHash},
		"approve_deployment")
	carl := connectTo(t, s, "deployments", "carl", "2025-11-25")
	var pending struct {
		Deployments []struct {
			WorkflowID string `json:"workflow_id"`
		} `json:"deployments"`
	}
	structured(t, carl, "list_pending_my_approval", map[string]any{}, &pending)
	if b, _ := json.Marshal(pending); !strings.Contains(string(b), started.WorkflowID) {
		t.Fatalf("carl's pending list: %s", b)
	}
	structured(t, carl, "approve_deployment", map[string]any{"workflow_id": started.WorkflowID, "request_hash": started.RequestHash,
		"comment": "core NTP, approved"}, nil)
	wait(deploy.StateCompleted)
}

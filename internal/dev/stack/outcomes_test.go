package stack_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/stack"
	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
	"github.com/gatehouse-mcp/gatehouse/workflows/devserver"
)

// The other ends of a deployment through the dev edge with real tokens, on a real Temporal,
// checked in the simulators' state: a deployment the policy lets through without approval
// completes (its change closed successful, one Catalyst Center deployment); one whose deploy
// fails on the device deploys the rollback template and closes the change unsuccessful; one
// an approver rejects and one nobody approves in time cancel their change and deploy nothing.
//
// The copy of the policy makes every hour a standard change window (so an access switch needs
// no approval at any time of day) and gives core-device approval six seconds.
func TestDeploymentOutcomesThroughTheEdge(t *testing.T) {
	bin := devserver.Bin(t)
	s := deploymentStack(t, bin, map[string]string{
		`"core_device": {"approvers": 2, "timeout_minutes": 240}`: `"core_device": {"approvers": 1, "timeout_minutes": 0.1}`,
		`{"days": ["Saturday", "Sunday"], "from": "00:00", "to": "24:00"}`: `{"days": ["Monday", "Tuesday", "Wednesday", ` +
			`"Thursday", "Friday", "Saturday", "Sunday"], "from": "00:00", "to": "24:00"}`,
	})
	cc := connectTo(t, s, "catalyst-center", "nina", "2025-11-25")
	core, access, template := deviceID(t, cc, "lon-b1-core-01"), deviceID(t, cc, "lon-b1-acc-01"), ntpTemplate(t, cc)

	// Close to midnight UTC a window cannot stay on one day long enough: start after it.
	if d := time.Until(time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)); d < 3*time.Minute {
		t.Logf("waiting %s for midnight UTC: a standard window is a time of day", d)
		time.Sleep(d + 2*time.Second)
	}
	nina := connectTo(t, s, "deployments", "nina", "2025-11-25")
	carl := connectTo(t, s, "deployments", "carl", "2025-11-25")
	type view struct {
		WorkflowID  string       `json:"workflow_id"`
		State       deploy.State `json:"state"`
		RequestHash string       `json:"request_hash"`
		Approval    struct {
			Required bool `json:"required"`
		} `json:"approval"`
		Change *deploy.ChangeRef `json:"change"`
	}
	start := func(deviceID, summary string, rollback bool) view {
		t.Helper()
		args := map[string]any{
			"template_id": template, "template_version": 2, "device_ids": []string{deviceID},
			"parameters":    map[string]any{"ntp_primary": "10.0.0.1", "ntp_secondary": "10.0.0.2", "timezone": "UTC"},
			"change_window": sameDayWindow(time.Now().UTC()),
			"summary":       summary,
		}
		if rollback {
			args["rollback"] = map[string]any{"template_id": template, "template_version": 1,
				"parameters": map[string]any{"ntp_primary": "10.0.0.9", "ntp_secondary": "10.0.0.8", "timezone": "UTC"}}
		}
		var v view
		structured(t, nina, "start_deployment", args, &v)
		return v
	}
	wait := func(id string, want deploy.State) view {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			var v view
			structured(t, nina, "get_deployment", map[string]any{"workflow_id": id}, &v)
			if v.State == want {
				return v
			}
			if time.Now().After(deadline) || v.State.Terminal() {
				t.Fatalf("deployment %s is %s, want %s", id, v.State, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	change := func(v view) map[string]string {
		t.Helper()
		if v.Change == nil {
			t.Fatalf("deployment %s has no change request", v.WorkflowID)
		}
		ch, ok := s.SNSim.Change(v.Change.Number)
		if !ok {
			t.Fatalf("change %s is not in ServiceNow", v.Change.Number)
		}
		return ch
	}
	deploymentsOf := func(deviceID string) []string {
		var out []string
		for _, d := range s.Sim.Deployments() {
			for _, id := range d.DeviceIDs {
				if id == deviceID {
					out = append(out, fmt.Sprintf("%s v%d", d.Status, d.TemplateVersion))
				}
			}
		}
		return out
	}

	// Approval is needed only on the core device: the two that wait start first.
	rejected := start(core, "NTP on the core, to be rejected", false)
	expired := start(core, "NTP on the core, never approved", false)
	if !rejected.Approval.Required || !expired.Approval.Required {
		t.Fatalf("core deployments without approval: %+v %+v", rejected, expired)
	}
	wait(rejected.WorkflowID, deploy.StateAwaitingApproval)
	structured(t, carl, "reject_deployment", map[string]any{"workflow_id": rejected.WorkflowID,
		"request_hash": rejected.RequestHash, "reason": "not this week"}, nil)

	// The only deploy in flight: Catalyst Center fails it, the rollback template goes out.
	s.Sim.FailNextDeploy("Configuration push failed: % Invalid input detected at '^' marker.")
	failing := start(access, "NTP on an access switch, failing", true)
	if failing.Approval.Required {
		t.Fatalf("an access switch in a standard window needs approval: %+v", failing)
	}
	failed := wait(failing.WorkflowID, deploy.StateFailed)
	if ch := change(failed); ch["state"] != "3" || ch["close_code"] != "unsuccessful" ||
		!strings.Contains(ch["close_notes"], "Rollback NTP-Servers v1: succeeded") {
		t.Errorf("failed deployment's change: state %s, close code %s, notes %q", ch["state"], ch["close_code"], ch["close_notes"])
	}
	if got := deploymentsOf(access); strings.Join(got, ",") != "FAILURE v2,SUCCESS v1" {
		t.Errorf("deployments on the access switch after the failure: %v, want the failed one and the rollback", got)
	}

	// Then one that needs no approval completes.
	ok := start(access, "NTP on an access switch", false)
	done := wait(ok.WorkflowID, deploy.StateCompleted)
	if ch := change(done); ch["state"] != "3" || ch["close_code"] != "successful" {
		t.Errorf("completed deployment's change: state %s, close code %s", ch["state"], ch["close_code"])
	}
	if got := deploymentsOf(access); len(got) != 3 || got[2] != "SUCCESS v2" {
		t.Errorf("deployments on the access switch: %v, want a third, successful v2", got)
	}

	// Rejected and expired: change canceled, nothing deployed on the core.
	for _, c := range []struct {
		v    view
		want deploy.State
	}{{rejected, deploy.StateRejected}, {expired, deploy.StateExpired}} {
		end := wait(c.v.WorkflowID, c.want)
		if ch := change(end); ch["state"] != "4" {
			t.Errorf("%s deployment's change is in state %s, want 4 (canceled)", c.want, ch["state"])
		}
	}
	if got := deploymentsOf(core); len(got) != 0 {
		t.Errorf("deployments on the core device: %v, want none", got)
	}
}

// sameDayWindow is a change window open now that starts and ends on the same UTC day (a
// standard window is a time of day). The test waits past midnight when it is close.
func sameDayWindow(now time.Time) map[string]any {
	day := now.Truncate(24 * time.Hour)
	start, end := now.Add(-time.Minute), now.Add(30*time.Minute)
	if start.Before(day) {
		start = day
	}
	if last := day.Add(24*time.Hour - time.Second); end.After(last) {
		end = last
	}
	return map[string]any{"start": start.Format(time.RFC3339), "end": end.Format(time.RFC3339)}
}

// deploymentStack starts the platform, with Temporal, on a copy of the policies whose
// data.json has each edit applied (old → new; each must still be there) and without the Rego
// tests that pin the reference data: the copy is for the flows only.
func deploymentStack(t *testing.T, temporalBin string, edits map[string]string) *stack.Stack {
	t.Helper()
	dir := testkit.CopyPolicies(t)
	data, err := os.ReadFile(filepath.Join(dir, "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for old, repl := range edits {
		if !strings.Contains(text, old) {
			t.Fatalf("data.json no longer has %s", old)
		}
		text = strings.Replace(text, old, repl, 1)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.json"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "deployments_test.rego")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{PolicyDir: dir, Log: zerolog.Nop(), TemporalBin: temporalBin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// deviceID is the Catalyst Center id of the device with that host name.
func deviceID(t *testing.T, cc *client.Client, hostname string) string {
	t.Helper()
	var devs struct {
		Devices []struct {
			ID string `json:"id"`
		} `json:"devices"`
	}
	structured(t, cc, "list_devices", map[string]any{"hostname": hostname}, &devs)
	if len(devs.Devices) != 1 {
		t.Fatalf("device %s: %+v", hostname, devs)
	}
	return devs.Devices[0].ID
}

// ntpTemplate is the id of Catalyst Center's NTP-Servers template.
func ntpTemplate(t *testing.T, cc *client.Client) string {
	t.Helper()
	var tmpls struct {
		Templates []catalystcenter.TemplateSummary `json:"templates"`
	}
	structured(t, cc, "list_templates", map[string]any{}, &tmpls)
	for _, tm := range tmpls.Templates {
		if tm.Name == "NTP-Servers" {
			return tm.TemplateID
		}
	}
	t.Fatalf("no NTP-Servers template in %+v", tmpls)
	return ""
}

package deploy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
)

// CatalystCenter is the Controller over the Catalyst Center adapter's client.
type CatalystCenter struct {
	C *catalystcenter.Client
}

var _ Controller = CatalystCenter{}

// Template implements Controller: it lists the templates and finds the committed version.
func (cc CatalystCenter) Template(ctx context.Context, templateID string, version int) (TemplateInfo, error) {
	list, err := cc.C.Templates(ctx, "")
	if err != nil {
		return TemplateInfo{}, classify(err)
	}
	i := slices.IndexFunc(list, func(t catalystcenter.TemplateSummary) bool { return t.TemplateID == templateID })
	if i < 0 {
		return TemplateInfo{}, fmt.Errorf("%w: Catalyst Center has no template with id %s", ErrNotFound, templateID)
	}
	t := list[i]
	var committed []string
	for _, v := range t.VersionsInfo {
		if v.Version == strconv.Itoa(version) {
			return TemplateInfo{TemplateID: t.TemplateID, Name: t.Name, Project: t.ProjectName, Version: version, VersionID: v.ID}, nil
		}
		committed = append(committed, v.Version)
	}
	if len(committed) == 0 {
		return TemplateInfo{}, fmt.Errorf("%w: template %s has no committed version", ErrNotFound, t.Name)
	}
	return TemplateInfo{}, fmt.Errorf("%w: template %s has no committed version %d (committed: %s)", ErrNotFound, t.Name, version,
		strings.Join(committed, ", "))
}

// Devices implements Controller: each device from the inventory, with its assurance health
// matched by management IP address.
func (cc CatalystCenter) Devices(ctx context.Context, ids []string) ([]DeviceHealth, error) {
	out := make([]DeviceHealth, 0, len(ids))
	for _, id := range ids {
		d, err := cc.C.Device(ctx, id)
		if kit.IsStatus(err, http.StatusNotFound) {
			return nil, fmt.Errorf("%w: Catalyst Center has no network device with id %s", ErrNotFound, id)
		}
		if err != nil {
			return nil, classify(err)
		}
		out = append(out, DeviceHealth{ID: d.ID, Hostname: d.Hostname, ManagementIP: d.ManagementIPAddress,
			Reachable: strings.EqualFold(d.ReachabilityStatus, "Reachable")})
	}
	health := map[string]catalystcenter.DeviceHealth{}
	for offset := 1; ; offset += 500 {
		page, err := cc.C.DeviceHealthList(ctx, "", "", "", offset, 500)
		if err != nil {
			return nil, classify(err)
		}
		for _, h := range page {
			health[h.IPAddress] = h
		}
		if len(page) < 500 {
			break
		}
	}
	for i, d := range out {
		if h, ok := health[d.ManagementIP]; ok {
			out[i].Health = h.OverallHealth
			if strings.EqualFold(h.ReachabilityHealth, "UNREACHABLE") {
				out[i].Reachable = false
			}
		}
	}
	return out, nil
}

// Preview implements Controller.
func (cc CatalystCenter) Preview(ctx context.Context, versionID string, params map[string]string) (Preview, error) {
	p, err := cc.C.PreviewTemplate(ctx, versionID, params)
	if err != nil {
		return Preview{}, classify(err)
	}
	out := Preview{}
	if p.CLIPreview != nil {
		out.CLI = *p.CLIPreview
	}
	for _, e := range p.ValidationErrors {
		out.Errors = append(out.Errors, e.Message)
	}
	if p.CLIPreview == nil && len(out.Errors) == 0 {
		out.Errors = []string{"Catalyst Center rendered nothing"}
	}
	return out, nil
}

// Deploy implements Controller with the v2 deploy API, naming the committed version as the
// template (Catalyst Center deploys that version). The client sends it once.
func (cc CatalystCenter) Deploy(ctx context.Context, versionID string, deviceIDs []string, params map[string]string) (string, error) {
	task, err := cc.C.Deploy(ctx, versionID, deviceIDs, params, false)
	if err == nil {
		return task, nil
	}
	var ue *kit.UpstreamError
	if !errors.As(err, &ue) {
		// Not an HTTP exchange at all (the body could not be encoded).
		return "", fmt.Errorf("%w: %v", ErrNotSent, err)
	}
	switch {
	case ue.Status == http.StatusTooManyRequests || ue.Status == http.StatusUnauthorized:
		// Rate limited, or the credentials were refused even after a fresh login: the
		// controller did not process the request.
		return "", fmt.Errorf("%w: %v", ErrNotSent, err)
	case ue.Status >= 400 && ue.Status < 500 && ue.Status != http.StatusRequestTimeout:
		return "", fmt.Errorf("%w: %v", ErrRefused, err)
	case ue.Status == 0 && notSent(ue.Err):
		return "", fmt.Errorf("%w: %v", ErrNotSent, err)
	}
	return "", err // 5xx, 408, a timeout or a broken connection: outcome unknown
}

// notSent reports whether a transport error happened before the request could reach the
// controller: no connection, or no credentials to send.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	// The kit reports a failed login as "credentials: …" before any request was sent.
	return err != nil && strings.HasPrefix(err.Error(), "credentials: ")
}

// Task implements Controller.
func (cc CatalystCenter) Task(ctx context.Context, taskID string) (TaskStatus, error) {
	t, err := cc.C.Task(ctx, taskID)
	if kit.IsStatus(err, http.StatusNotFound) {
		return TaskStatus{}, fmt.Errorf("%w: Catalyst Center has no task %s", ErrNotFound, taskID)
	}
	if err != nil {
		return TaskStatus{}, classify(err)
	}
	return TaskStatus{TaskID: taskID, Done: t.Done(), Failed: t.IsError, FailureReason: t.FailureReason,
		DeploymentID: t.DeploymentID(), Progress: t.Progress}, nil
}

// FindDeploy implements Controller with the task search (GET /task, serviceType NCTP,
// started between since and until) and each finished task's deployment status: the
// deployment of this template name and version to exactly these devices, by the account
// Gatehouse signs in as (a deployment someone else started, even of the same template, is
// never taken for ours). A full page of 500 tasks is ambiguous: the search may have missed one.
func (cc CatalystCenter) FindDeploy(ctx context.Context, t TemplateInfo, deviceIDs []string, since, until time.Time) (string, error) {
	account, err := cc.C.Username(ctx)
	if err != nil {
		return "", err
	}
	tasks, err := cc.C.Tasks(ctx, "NCTP", since, until)
	if err != nil {
		return "", classify(err)
	}
	if len(tasks) >= 500 {
		return "", fmt.Errorf("%w: 500 or more deploy tasks between %s and %s", ErrAmbiguous, since.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339))
	}
	want := slices.Sorted(slices.Values(deviceIDs))
	var found []string
	pending := 0
	for _, tk := range tasks {
		if tk.Username != account {
			continue
		}
		if !tk.Done() {
			pending++
			continue
		}
		dep := tk.DeploymentID()
		if dep == "" {
			continue // not a template deployment (or one refused before it had one)
		}
		st, err := cc.C.DeployStatus(ctx, dep)
		if err != nil {
			return "", classify(err)
		}
		var got []string
		for _, d := range st.Devices {
			got = append(got, d.DeviceID)
		}
		slices.Sort(got)
		if st.TemplateName == t.Name && st.TemplateVersion == strconv.Itoa(t.Version) && slices.Equal(got, want) {
			found = append(found, tk.ID)
		}
	}
	switch {
	case len(found) > 1:
		return "", fmt.Errorf("%w: Catalyst Center tasks %s all deployed %s to these devices", ErrAmbiguous, strings.Join(found, ", "), t)
	case pending > 0:
		return "", fmt.Errorf("%w: %d deploy tasks since %s are still running", ErrPending, pending, since.UTC().Format(time.RFC3339))
	case len(found) == 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%w: no deploy task of %s to these devices since %s", ErrNotFound, t, since.UTC().Format(time.RFC3339))
}

// classify marks upstream answers a retry cannot change (4xx other than 401, 408 and 429)
// as permanent.
func classify(err error) error {
	var ue *kit.UpstreamError
	if errors.As(err, &ue) && ue.Status >= 400 && ue.Status < 500 && ue.Status != http.StatusUnauthorized &&
		ue.Status != http.StatusRequestTimeout && ue.Status != http.StatusTooManyRequests {
		return Permanent(err)
	}
	return err
}

package catalystcenter

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/devicecmd"
)

var (
	readOnly = kit.Annotations{ReadOnly: kit.Yes, Destructive: kit.No, Idempotent: kit.Yes, OpenWorld: kit.Yes}
	// Show commands run on devices (execute) but change nothing.
	showCommands = kit.Annotations{ReadOnly: kit.Yes, Destructive: kit.No, Idempotent: kit.Yes, OpenWorld: kit.Yes}
	// A deploy pushes configuration: it can overwrite state, and repeating it is not a no-op
	// (it creates another deployment).
	deploy = kit.Annotations{ReadOnly: kit.No, Destructive: kit.Yes, Idempotent: kit.No, OpenWorld: kit.Yes}
)

// Register adds every Catalyst Center tool to s. c may be nil when only the declarations are
// needed (the catalog command); the handlers are then never called.
func Register(s *kit.Server, c *Client) {
	kit.Add(s, kit.Tool[listDevicesArgs, listDevicesResult]{
		Name: "list_devices", Title: "List network devices", Action: kit.Read, Annotations: readOnly,
		Description: "List devices in the Catalyst Center inventory, optionally filtered by hostname, management IP, " +
			"platform, family, role or reachability. Pages start at offset 1; limit is at most 500. " +
			"When next_offset is set, call again with it to get the next page.",
		Handle: func(ctx context.Context, a listDevicesArgs) (listDevicesResult, error) {
			return c.listDevices(ctx, a)
		},
	})
	kit.Add(s, kit.Tool[deviceIDArgs, Device]{
		Name: "get_device", Title: "Get one network device", Action: kit.Read, Annotations: readOnly,
		Description: "Get one inventory device by its id (a UUID from list_devices).",
		Handle: func(ctx context.Context, a deviceIDArgs) (Device, error) {
			return c.Device(ctx, a.DeviceID)
		},
	})
	kit.Add(s, kit.Tool[deviceHealthArgs, deviceHealthResult]{
		Name: "get_device_health", Title: "Device health", Action: kit.Read, Annotations: readOnly,
		Description: "Assurance health of devices (overall score 1-10, CPU, memory, reachability), optionally by role " +
			"(ACCESS, CORE, DISTRIBUTION, ROUTER, WLC, AP), site id, or health band (POOR, FAIR, GOOD).",
		Handle: func(ctx context.Context, a deviceHealthArgs) (deviceHealthResult, error) {
			off, lim := page(a.Offset, a.Limit)
			hs, err := c.DeviceHealthList(ctx, a.Role, a.SiteID, a.Health, off, lim)
			return deviceHealthResult{Devices: hs}, err
		},
	})
	kit.Add(s, kit.Tool[noArgs, siteHealthResult]{
		Name: "get_site_health", Title: "Site health", Action: kit.Read, Annotations: readOnly,
		Description: "Health of every site: share of healthy devices and clients, device and client counts.",
		Handle: func(ctx context.Context, _ noArgs) (siteHealthResult, error) {
			hs, err := c.SiteHealthList(ctx)
			return siteHealthResult{Sites: hs}, err
		},
	})
	kit.Add(s, kit.Tool[listSitesArgs, listSitesResult]{
		Name: "list_sites", Title: "List sites", Action: kit.Read, Annotations: readOnly,
		Description: "List sites (areas and buildings) with their hierarchy, optionally by full name " +
			"such as Global/EMEA/London/Building-1.",
		Handle: func(ctx context.Context, a listSitesArgs) (listSitesResult, error) {
			off, lim := page(a.Offset, a.Limit)
			ss, err := c.Sites(ctx, a.Name, off, lim)
			return listSitesResult{Sites: ss}, err
		},
	})
	kit.Add(s, kit.Tool[noArgs, Topology]{
		Name: "get_topology", Title: "Physical topology", Action: kit.Read, Annotations: readOnly,
		Description: "The physical topology: devices (nodes) and the links between their ports, with link status.",
		Handle: func(ctx context.Context, _ noArgs) (Topology, error) {
			return c.PhysicalTopology(ctx)
		},
	})
	kit.Add(s, kit.Tool[listIssuesArgs, listIssuesResult]{
		Name: "list_issues", Title: "List assurance issues", Action: kit.Read, Annotations: readOnly,
		Description: "Assurance issues, optionally by site id, device id, priority (P1-P4) or status (active, resolved, ignored).",
		Handle: func(ctx context.Context, a listIssuesArgs) (listIssuesResult, error) {
			is, err := c.Issues(ctx, a.SiteID, a.DeviceID, a.Priority, a.Status)
			return listIssuesResult{Issues: is}, err
		},
	})
	kit.Add(s, kit.Tool[listTemplatesArgs, listTemplatesResult]{
		Name: "list_templates", Title: "List configuration templates", Action: kit.Read, Annotations: readOnly,
		Description: "Configuration templates with their project and committed versions, optionally of one project.",
		Handle: func(ctx context.Context, a listTemplatesArgs) (listTemplatesResult, error) {
			ts, err := c.Templates(ctx, a.ProjectID)
			return listTemplatesResult{Templates: ts}, err
		},
	})
	kit.Add(s, kit.Tool[previewArgs, previewResult]{
		Name: "preview_template", Title: "Preview a rendered template", Action: kit.Read, Annotations: readOnly,
		Description: "Render a template with parameter values and return the CLI it would push, or what is missing. " +
			"Nothing is sent to any device.",
		Handle: func(ctx context.Context, a previewArgs) (previewResult, error) {
			return c.preview(ctx, a)
		},
	})
	kit.Add(s, kit.Tool[showArgs, showResult]{
		Name: "run_show_commands", Title: "Run read-only show commands", Action: kit.Execute, Annotations: showCommands,
		Description: "Run read-only CLI commands on up to 10 devices and return each device's output, keyed by the command " +
			"in full form (\"sh ver\" runs and answers as \"show version\"): show, ping <target> and traceroute <target>. " +
			"Which commands you may run is decided by policy; configuration, reload, write and chained commands are refused.",
		Handle: func(ctx context.Context, a showArgs) (showResult, error) {
			return c.runShow(ctx, a)
		},
	})
	kit.Add(s, kit.Tool[deployArgs, deployResult]{
		Name: "deploy_template", Title: "Deploy a configuration template", Action: kit.Execute, Annotations: deploy,
		Description: "Push a configuration template to devices. This changes device configuration. It returns a task id " +
			"at once; follow it with get_task_status. Preview the template first.",
		Handle: func(ctx context.Context, a deployArgs) (deployResult, error) {
			if len(a.DeviceIDs) == 0 {
				return deployResult{}, fmt.Errorf("device_ids must name at least one device")
			}
			id, err := c.Deploy(ctx, a.TemplateID, a.DeviceIDs, a.Params, a.ForcePush)
			return deployResult{TaskID: id, Next: "call get_task_status with task_id until done is true"}, err
		},
	})
	kit.Add(s, kit.Tool[taskArgs, taskResult]{
		Name: "get_task_status", Title: "Get task status", Action: kit.Read, Annotations: readOnly,
		Description: "Status of an asynchronous Catalyst Center task (a deployment or a command run): done, error, progress.",
		Handle: func(ctx context.Context, a taskArgs) (taskResult, error) {
			t, err := c.Task(ctx, a.TaskID)
			if err != nil {
				return taskResult{}, err
			}
			return taskResult{TaskID: t.ID, Done: t.Done(), IsError: t.IsError, Progress: t.Progress,
				FailureReason: t.FailureReason, DeploymentID: t.DeploymentID(), FileID: t.FileID()}, nil
		},
	})
}

type noArgs struct{}

// page applies the API's defaults and bounds: offset from 1, limit 1..500.
func page(offset, limit int) (int, int) {
	if offset < 1 {
		offset = 1
	}
	if limit < 1 {
		limit = 50
	}
	return offset, min(limit, 500)
}

type listDevicesArgs struct {
	Hostname     string `json:"hostname,omitempty" jsonschema:"Hostname, or a regular expression such as lon-.*"`
	ManagementIP string `json:"management_ip,omitempty" jsonschema:"Management IP address"`
	PlatformID   string `json:"platform_id,omitempty" jsonschema:"Platform, e.g. C9300-48U"`
	Family       string `json:"family,omitempty" jsonschema:"Device family, e.g. Switches and Hubs"`
	Role         string `json:"role,omitempty" jsonschema:"Role: ACCESS, DISTRIBUTION, CORE, BORDER ROUTER"`
	Reachability string `json:"reachability,omitempty" jsonschema:"Reachable or Unreachable"`
	Offset       int    `json:"offset,omitempty" jsonschema:"First record, counting from 1 (default 1)"`
	Limit        int    `json:"limit,omitempty" jsonschema:"Records per page, 1 to 500 (default 50)"`
}

type listDevicesResult struct {
	Devices    []Device `json:"devices"`
	Offset     int      `json:"offset"`
	Limit      int      `json:"limit"`
	NextOffset int      `json:"next_offset,omitempty"`
}

func (c *Client) listDevices(ctx context.Context, a listDevicesArgs) (listDevicesResult, error) {
	if a.Limit > 500 {
		return listDevicesResult{}, fmt.Errorf("limit is at most 500 (Catalyst Center's page size), got %d", a.Limit)
	}
	off, lim := page(a.Offset, a.Limit)
	ds, err := c.Devices(ctx, DeviceFilter{Hostname: a.Hostname, ManagementIP: a.ManagementIP, PlatformID: a.PlatformID,
		Family: a.Family, Role: a.Role, Reachability: a.Reachability, Offset: off, Limit: lim})
	if err != nil {
		return listDevicesResult{}, err
	}
	r := listDevicesResult{Devices: ds, Offset: off, Limit: lim}
	if r.Devices == nil {
		r.Devices = []Device{}
	}
	if len(ds) == lim {
		r.NextOffset = off + lim
	}
	return r, nil
}

type deviceIDArgs struct {
	DeviceID string `json:"device_id" jsonschema:"Device id (UUID)"`
}

type deviceHealthArgs struct {
	Role   string `json:"role,omitempty" jsonschema:"ACCESS, CORE, DISTRIBUTION, ROUTER, WLC or AP"`
	SiteID string `json:"site_id,omitempty" jsonschema:"Site id (UUID)"`
	Health string `json:"health,omitempty" jsonschema:"POOR, FAIR or GOOD"`
	Offset int    `json:"offset,omitempty" jsonschema:"First record, from 1"`
	Limit  int    `json:"limit,omitempty" jsonschema:"Records, 1 to 500"`
}

type deviceHealthResult struct {
	Devices []DeviceHealth `json:"devices"`
}

type siteHealthResult struct {
	Sites []SiteHealth `json:"sites"`
}

type listSitesArgs struct {
	Name   string `json:"name,omitempty" jsonschema:"Full site name, e.g. Global/EMEA/London/Building-1"`
	Offset int    `json:"offset,omitempty" jsonschema:"First record, from 1"`
	Limit  int    `json:"limit,omitempty" jsonschema:"Records, 1 to 500"`
}

type listSitesResult struct {
	Sites []Site `json:"sites"`
}

type listIssuesArgs struct {
	SiteID   string `json:"site_id,omitempty" jsonschema:"Site id (UUID)"`
	DeviceID string `json:"device_id,omitempty" jsonschema:"Device id (UUID)"`
	Priority string `json:"priority,omitempty" jsonschema:"P1, P2, P3 or P4"`
	Status   string `json:"status,omitempty" jsonschema:"active, resolved or ignored"`
}

type listIssuesResult struct {
	Issues []Issue `json:"issues"`
}

type listTemplatesArgs struct {
	ProjectID string `json:"project_id,omitempty" jsonschema:"Only templates of this project"`
}

type listTemplatesResult struct {
	Templates []TemplateSummary `json:"templates"`
}

type previewArgs struct {
	TemplateID string            `json:"template_id" jsonschema:"Template id"`
	Params     map[string]string `json:"params,omitempty" jsonschema:"Template variables and their values"`
}

type previewResult struct {
	CLI     string   `json:"cli,omitempty"`
	Missing []string `json:"problems,omitempty"`
}

func (c *Client) preview(ctx context.Context, a previewArgs) (previewResult, error) {
	p, err := c.PreviewTemplate(ctx, a.TemplateID, a.Params)
	if err != nil {
		return previewResult{}, err
	}
	var r previewResult
	if p.CLIPreview != nil {
		r.CLI = *p.CLIPreview
	}
	for _, v := range p.ValidationErrors {
		r.Missing = append(r.Missing, v.Message)
	}
	return r, nil
}

type showArgs struct {
	DeviceIDs      []string `json:"device_ids" jsonschema:"Device ids (UUIDs), 1 to 10"`
	Commands       []string `json:"commands" jsonschema:"Read-only commands, e.g. show version; 1 to 20"`
	TimeoutSeconds int      `json:"timeout_seconds,omitempty" jsonschema:"How long the devices may take (default 30, at most 300)"`
}

type deviceOutput struct {
	DeviceID    string            `json:"device_id"`
	Output      map[string]string `json:"output,omitempty"`
	Failed      map[string]string `json:"failed,omitempty"`
	Blacklisted map[string]string `json:"refused,omitempty"`
}

type showResult struct {
	Results []deviceOutput `json:"results"`
}

func (c *Client) runShow(ctx context.Context, a showArgs) (showResult, error) {
	if len(a.DeviceIDs) == 0 || len(a.DeviceIDs) > 10 {
		return showResult{}, fmt.Errorf("device_ids must name 1 to 10 devices, got %d", len(a.DeviceIDs))
	}
	if len(a.Commands) == 0 || len(a.Commands) > 20 {
		return showResult{}, fmt.Errorf("commands must hold 1 to 20 commands, got %d", len(a.Commands))
	}
	timeout := a.TimeoutSeconds
	if timeout <= 0 {
		timeout = 30
	}
	timeout = min(timeout, 300)
	// The adapter's floor (show, ping and traceroute with a target; no chaining, line breaks
	// or file-writing pipes) holds whatever the policy allows; the command sent is the normal
	// form, which is what the policy checked.
	cmds := make([]string, 0, len(a.Commands))
	for _, raw := range a.Commands {
		n, err := devicecmd.Check(raw)
		if err != nil {
			return showResult{}, fmt.Errorf("nothing was run: %w", err)
		}
		cmds = append(cmds, n)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(timeout+30)*time.Second)
	defer cancel()
	results, err := c.RunReadOnly(ctx, a.DeviceIDs, cmds, timeout)
	if err != nil {
		return showResult{}, err
	}
	out := showResult{Results: []deviceOutput{}}
	for _, r := range results {
		out.Results = append(out.Results, deviceOutput{DeviceID: r.DeviceUUID, Output: r.CommandResponses.Success,
			Failed: r.CommandResponses.Failure, Blacklisted: r.CommandResponses.Blacklisted})
	}
	return out, nil
}

type deployArgs struct {
	TemplateID string            `json:"template_id" jsonschema:"Template id (from list_templates)"`
	DeviceIDs  []string          `json:"device_ids" jsonschema:"Target device ids (UUIDs)"`
	Params     map[string]string `json:"params,omitempty" jsonschema:"Template variables and their values, the same for every device"`
	ForcePush  bool              `json:"force_push,omitempty" jsonschema:"Push even if the device already has this template version"`
}

type deployResult struct {
	TaskID string `json:"task_id"`
	Next   string `json:"next"`
}

type taskArgs struct {
	TaskID string `json:"task_id" jsonschema:"Task id from deploy_template or a command run"`
}

type taskResult struct {
	TaskID        string `json:"task_id"`
	Done          bool   `json:"done"`
	IsError       bool   `json:"is_error"`
	Progress      string `json:"progress"`
	FailureReason string `json:"failure_reason,omitempty"`
	DeploymentID  string `json:"deployment_id,omitempty"`
	FileID        string `json:"file_id,omitempty"`
}

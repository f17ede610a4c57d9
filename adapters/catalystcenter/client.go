// Package catalystcenter is the Gatehouse adapter for Cisco Catalyst Center (formerly DNA
// Center): MCP tools for inventory, health, topology, issues, configuration templates and
// read-only show commands, over the Catalyst Center Intent API. Credentials come from the
// kit's SecretSource; the adapter has no authorization code of its own.
package catalystcenter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
)

// ServerName is the adapter's name in gatehouse.yaml and the secret it reads.
const ServerName = "catalyst-center"

const (
	tokenPath = "/dna/system/api/v1/auth/token"
	v1        = "/dna/intent/api/v1"
	v2        = "/dna/intent/api/v2"
)

// Client calls the Catalyst Center Intent API. It logs in with the Basic credentials of the
// secret "catalyst-center" (fields username, password), keeps the X-Auth-Token, and logs in
// again after a 401; if the login itself is refused, it re-reads the secret first, so a
// password rotated in Vault is picked up without a restart.
type Client struct {
	api     *kit.Client
	secrets kit.SecretSource
	// PollInterval is how often task status is polled (default 1s).
	PollInterval time.Duration

	mu    sync.Mutex
	token string
}

// NewClient returns a client for the controller at base.
func NewClient(base string, secrets kit.SecretSource, m *kit.Metrics, log zerolog.Logger) (*Client, error) {
	c := &Client{secrets: secrets, PollInterval: time.Second}
	api, err := kit.NewClient(ServerName, "Catalyst Center", base, c, m, log)
	if err != nil {
		return nil, err
	}
	c.api = api
	return c, nil
}

// API exposes the underlying kit client (timeouts, transport) for configuration.
func (c *Client) API() *kit.Client { return c.api }

// Authorize implements kit.Authenticator.
func (c *Client) Authorize(ctx context.Context, r *http.Request) error {
	c.mu.Lock()
	tok := c.token
	c.mu.Unlock()
	if tok == "" {
		if err := c.login(ctx); err != nil {
			return err
		}
		c.mu.Lock()
		tok = c.token
		c.mu.Unlock()
	}
	r.Header.Set("X-Auth-Token", tok)
	return nil
}

// Refresh implements kit.Authenticator: the token expired (tokens last 60 minutes).
func (c *Client) Refresh(ctx context.Context) error { return c.login(ctx) }

func (c *Client) login(ctx context.Context) error {
	err := c.loginWithSecret(ctx)
	if kit.IsStatus(err, http.StatusUnauthorized) {
		// The stored password was refused: it may have been rotated. Read it again.
		c.secrets.Invalidate(ServerName)
		err = c.loginWithSecret(ctx)
	}
	return err
}

func (c *Client) loginWithSecret(ctx context.Context) error {
	s, err := c.secrets.Get(ctx, ServerName)
	if err != nil {
		return fmt.Errorf("credentials for Catalyst Center: %w", err)
	}
	user, err := s.Field("username")
	if err != nil {
		return fmt.Errorf("credentials for Catalyst Center: %w", err)
	}
	pass, err := s.Field("password")
	if err != nil {
		return fmt.Errorf("credentials for Catalyst Center: %w", err)
	}
	var out struct {
		Token string `json:"Token"`
	}
	if _, err := c.api.Do(ctx, kit.Request{Method: http.MethodPost, Path: tokenPath, NoAuth: true,
		BasicAuth: &[2]string{user, pass}, Idempotent: true}, &out); err != nil {
		return err
	}
	if out.Token == "" {
		return errors.New("the Catalyst Center token endpoint returned no token")
	}
	c.mu.Lock()
	c.token = out.Token
	c.mu.Unlock()
	return nil
}

// Ready checks that credentials are available (not that the controller is up: an adapter
// whose upstream is down should still answer, with errors that say so).
func (c *Client) Ready(ctx context.Context) error {
	_, err := c.secrets.Get(ctx, ServerName)
	return err
}

// envelope is the Intent API's {"response": ..., "version": ...} wrapper.
type envelope[T any] struct {
	Response   T      `json:"response"`
	Version    string `json:"version"`
	TotalCount int    `json:"totalCount"`
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	_, err := c.api.Do(ctx, kit.Request{Method: http.MethodGet, Path: path, Query: q}, out)
	return err
}

// Device is a network device as the inventory reports it.
type Device struct {
	ID                  string `json:"id"`
	Hostname            string `json:"hostname"`
	ManagementIPAddress string `json:"managementIpAddress"`
	PlatformID          string `json:"platformId"`
	Family              string `json:"family"`
	Type                string `json:"type"`
	Series              string `json:"series"`
	Role                string `json:"role"`
	SoftwareType        string `json:"softwareType"`
	SoftwareVersion     string `json:"softwareVersion"`
	ReachabilityStatus  string `json:"reachabilityStatus"`
	SerialNumber        string `json:"serialNumber"`
	MacAddress          string `json:"macAddress"`
	UpTime              string `json:"upTime"`
	LastUpdated         string `json:"lastUpdated"`
	SNMPLocation        string `json:"snmpLocation"`
}

// DeviceFilter narrows the inventory.
type DeviceFilter struct {
	Hostname, ManagementIP, PlatformID, Family, Role, Reachability string
	Offset, Limit                                                  int
}

// Devices lists inventory devices (offset is 1-based, limit at most 500).
func (c *Client) Devices(ctx context.Context, f DeviceFilter) ([]Device, error) {
	q := url.Values{}
	setNonEmpty(q, map[string]string{"hostname": f.Hostname, "managementIpAddress": f.ManagementIP,
		"platformId": f.PlatformID, "family": f.Family, "role": f.Role, "reachabilityStatus": f.Reachability})
	q.Set("offset", strconv.Itoa(f.Offset))
	q.Set("limit", strconv.Itoa(f.Limit))
	var out envelope[[]Device]
	return out.Response, c.get(ctx, v1+"/network-device", q, &out)
}

// Device returns one device.
func (c *Client) Device(ctx context.Context, id string) (Device, error) {
	var out envelope[Device]
	return out.Response, c.get(ctx, v1+"/network-device/"+url.PathEscape(id), nil, &out)
}

// DeviceHealth is one device's assurance health.
type DeviceHealth struct {
	Name               string `json:"name"`
	Model              string `json:"model"`
	OSVersion          string `json:"osVersion"`
	IPAddress          string `json:"ipAddress"`
	OverallHealth      int    `json:"overallHealth"`
	IssueCount         int    `json:"issueCount"`
	Location           string `json:"location"`
	DeviceFamily       string `json:"deviceFamily"`
	DeviceType         string `json:"deviceType"`
	CPUUtilization     int    `json:"cpuUlitilization"` // sic: the API's spelling
	MemoryUtilization  int    `json:"memoryUtilization"`
	ReachabilityHealth string `json:"reachabilityHealth"`
}

// DeviceHealthList returns device health (role: ACCESS, CORE, DISTRIBUTION, ROUTER, WLC, AP;
// health: POOR, FAIR, GOOD).
func (c *Client) DeviceHealthList(ctx context.Context, role, siteID, health string, offset, limit int) ([]DeviceHealth, error) {
	q := url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(limit)}}
	setNonEmpty(q, map[string]string{"deviceRole": role, "siteId": siteID, "health": health})
	var out envelope[[]DeviceHealth]
	return out.Response, c.get(ctx, v1+"/device-health", q, &out)
}

// SiteHealth is one site's health summary.
type SiteHealth struct {
	SiteName                       string `json:"siteName"`
	SiteID                         string `json:"siteId"`
	ParentSiteName                 string `json:"parentSiteName"`
	SiteType                       string `json:"siteType"`
	HealthyNetworkDevicePercentage *int   `json:"healthyNetworkDevicePercentage"`
	HealthyClientsPercentage       *int   `json:"healthyClientsPercentage"`
	NumberOfNetworkDevice          int    `json:"numberOfNetworkDevice"`
	NumberOfClients                int    `json:"numberOfClients"`
}

// SiteHealthList returns site health.
func (c *Client) SiteHealthList(ctx context.Context) ([]SiteHealth, error) {
	var out envelope[[]SiteHealth]
	return out.Response, c.get(ctx, v1+"/site-health", nil, &out)
}

// Site is a site in the hierarchy.
type Site struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	SiteNameHierarchy string `json:"siteNameHierarchy"`
	SiteHierarchy     string `json:"siteHierarchy"`
}

// Sites lists sites.
func (c *Client) Sites(ctx context.Context, name string, offset, limit int) ([]Site, error) {
	q := url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(limit)}}
	if name != "" {
		q.Set("name", name)
	}
	var out envelope[[]Site]
	return out.Response, c.get(ctx, v1+"/site", q, &out)
}

// Topology is the physical topology.
type Topology struct {
	Nodes []struct {
		ID         string `json:"id"`
		Label      string `json:"label"`
		IP         string `json:"ip"`
		DeviceType string `json:"deviceType"`
		Role       string `json:"role"`
		GreyOut    bool   `json:"greyOut"`
	} `json:"nodes"`
	Links []struct {
		Source        string `json:"source"`
		StartPortName string `json:"startPortName"`
		Target        string `json:"target"`
		EndPortName   string `json:"endPortName"`
		LinkStatus    string `json:"linkStatus"`
	} `json:"links"`
}

// PhysicalTopology returns the physical topology.
func (c *Client) PhysicalTopology(ctx context.Context) (Topology, error) {
	var out envelope[Topology]
	return out.Response, c.get(ctx, v1+"/topology/physical-topology", nil, &out)
}

// Issue is an assurance issue.
type Issue struct {
	IssueID       string `json:"issueId"`
	Name          string `json:"name"`
	SiteID        string `json:"siteId"`
	DeviceID      string `json:"deviceId"`
	DeviceRole    string `json:"deviceRole"`
	Status        string `json:"status"`
	Priority      string `json:"priority"`
	Category      string `json:"category"`
	Occurrences   int    `json:"issue_occurence_count"`
	LastOccurence int64  `json:"last_occurence_time"`
}

// Issues lists assurance issues (priority P1..P4, status active, resolved, ignored).
func (c *Client) Issues(ctx context.Context, siteID, deviceID, priority, status string) ([]Issue, error) {
	q := url.Values{}
	setNonEmpty(q, map[string]string{"siteId": siteID, "deviceId": deviceID, "priority": priority, "issueStatus": status})
	var out envelope[[]Issue]
	return out.Response, c.get(ctx, v1+"/issues", q, &out)
}

// TemplateVersion is one committed version of a template.
type TemplateVersion struct {
	ID             string `json:"id"`
	Version        string `json:"version"`
	VersionComment string `json:"versionComment"`
	Author         string `json:"author"`
}

// TemplateSummary is a template as listed.
type TemplateSummary struct {
	Name         string            `json:"name"`
	TemplateID   string            `json:"templateId"`
	ProjectID    string            `json:"projectId"`
	ProjectName  string            `json:"projectName"`
	VersionsInfo []TemplateVersion `json:"versionsInfo"`
}

// Templates lists templates, optionally of one project (this endpoint has no envelope).
func (c *Client) Templates(ctx context.Context, projectID string) ([]TemplateSummary, error) {
	q := url.Values{}
	if projectID != "" {
		q.Set("projectId", projectID)
	}
	var out []TemplateSummary
	return out, c.get(ctx, v1+"/template-programmer/template", q, &out)
}

// TemplateParam is a template variable.
type TemplateParam struct {
	ParameterName string  `json:"parameterName"`
	DataType      string  `json:"dataType"`
	DefaultValue  *string `json:"defaultValue"`
	Required      bool    `json:"required"`
}

// Template is a template's details.
type Template struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	ProjectName     string          `json:"projectName"`
	Version         string          `json:"version"`
	TemplateContent string          `json:"templateContent"`
	TemplateParams  []TemplateParam `json:"templateParams"`
}

// Template returns one template (latest version).
func (c *Client) Template(ctx context.Context, id string) (Template, error) {
	var out Template
	return out, c.get(ctx, v1+"/template-programmer/template/"+url.PathEscape(id), nil, &out)
}

// Preview is a rendered template.
type Preview struct {
	CLIPreview       *string `json:"cliPreview"`
	ValidationErrors []struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"validationErrors"`
}

// PreviewTemplate renders a template with params (a PUT that changes nothing).
func (c *Client) PreviewTemplate(ctx context.Context, templateID string, params map[string]string) (Preview, error) {
	var out Preview
	_, err := c.api.Do(ctx, kit.Request{Method: http.MethodPut, Path: v1 + "/template-programmer/template/preview",
		Body: map[string]any{"templateId": templateID, "params": params}}, &out)
	return out, err
}

// Deploy starts a template deployment (v2 API) and returns its task id. It is never retried:
// a deploy is not idempotent.
func (c *Client) Deploy(ctx context.Context, templateID string, deviceIDs []string, params map[string]string, force bool) (string, error) {
	targets := make([]map[string]any, 0, len(deviceIDs))
	for _, id := range deviceIDs {
		targets = append(targets, map[string]any{"id": id, "type": "MANAGED_DEVICE_UUID", "params": params})
	}
	var out envelope[struct {
		TaskID string `json:"taskId"`
	}]
	_, err := c.api.Do(ctx, kit.Request{Method: http.MethodPost, Path: v2 + "/template-programmer/template/deploy",
		Body: map[string]any{"templateId": templateID, "forcePushTemplate": force, "targetInfo": targets}}, &out)
	if err != nil {
		return "", err
	}
	if out.Response.TaskID == "" {
		return "", errors.New("the deployment was accepted but Catalyst Center returned no task id")
	}
	return out.Response.TaskID, nil
}

// Task is an asynchronous task.
type Task struct {
	ID            string `json:"id"`
	Username      string `json:"username"`
	Progress      string `json:"progress"`
	IsError       bool   `json:"isError"`
	FailureReason string `json:"failureReason"`
	StartTime     int64  `json:"startTime"`
	EndTime       int64  `json:"endTime"`
	Data          string `json:"data"`
}

// Done reports whether the task has finished (successfully or not).
func (t Task) Done() bool { return t.EndTime != 0 || t.IsError }

// Task returns a task's status.
func (c *Client) Task(ctx context.Context, id string) (Task, error) {
	var out envelope[Task]
	return out.Response, c.get(ctx, v1+"/task/"+url.PathEscape(id), nil, &out)
}

// Username is the account the client signs in as (the secret's username): the user the
// controller records on the tasks this client starts.
func (c *Client) Username(ctx context.Context) (string, error) {
	s, err := c.secrets.Get(ctx, ServerName)
	if err != nil {
		return "", fmt.Errorf("credentials for Catalyst Center: %w", err)
	}
	return s.Field("username")
}

// Tasks lists the controller's tasks of a service type ("NCTP" for template deploys)
// started from since to until, oldest first (GET /task, up to 500).
func (c *Client) Tasks(ctx context.Context, serviceType string, since, until time.Time) ([]Task, error) {
	q := url.Values{"startTime": {strconv.FormatInt(since.UnixMilli(), 10)}, "endTime": {strconv.FormatInt(until.UnixMilli(), 10)},
		"limit": {"500"}}
	if serviceType != "" {
		q.Set("serviceType", serviceType)
	}
	var out envelope[[]Task]
	return out.Response, c.get(ctx, v1+"/task", q, &out)
}

// DeployStatus is a template deployment as the controller reports it.
type DeployStatus struct {
	DeploymentID    string `json:"deploymentId"`
	TemplateName    string `json:"templateName"`
	TemplateVersion string `json:"templateVersion"`
	Status          string `json:"status"`
	Devices         []struct {
		DeviceID string `json:"deviceId"`
		Status   string `json:"status"`
	} `json:"devices"`
}

// DeployStatus reports a template deployment by the id its finished task names.
func (c *Client) DeployStatus(ctx context.Context, deploymentID string) (DeployStatus, error) {
	var out DeployStatus
	return out, c.get(ctx, v1+"/template-programmer/template/deploy/status/"+url.PathEscape(deploymentID), nil, &out)
}

var deploymentID = regexp.MustCompile(`Template Deploy(?:e?ment|emnt) Id:\s*([0-9a-fA-F-]+)`)

// DeploymentID extracts the deployment id a finished deploy task reports in its progress
// (the API spells it "Deployemnt").
func (t Task) DeploymentID() string {
	if m := deploymentID.FindStringSubmatch(t.Progress); m != nil {
		return m[1]
	}
	return ""
}

// FileID extracts the command runner result file a finished read task reports.
func (t Task) FileID() string {
	var p struct {
		FileID string `json:"fileId"`
	}
	if strings.HasPrefix(strings.TrimSpace(t.Progress), "{") && json.Unmarshal([]byte(t.Progress), &p) == nil {
		return p.FileID
	}
	return ""
}

// WaitTask polls a task until it is done or ctx ends.
func (c *Client) WaitTask(ctx context.Context, id string) (Task, error) {
	for {
		t, err := c.Task(ctx, id)
		if err != nil {
			return t, err
		}
		if t.Done() || t.FileID() != "" {
			return t, nil
		}
		select {
		case <-ctx.Done():
			return t, fmt.Errorf("task %s still running when the call's time ran out: %w", id, ctx.Err())
		case <-time.After(c.PollInterval):
		}
	}
}

// LegitReads returns the commands the command runner accepts (first words).
func (c *Client) LegitReads(ctx context.Context) ([]string, error) {
	var out envelope[[]string]
	return out.Response, c.get(ctx, v1+"/network-device-poller/cli/legit-reads", nil, &out)
}

// CommandResult is one device's command runner output.
type CommandResult struct {
	DeviceUUID       string `json:"deviceUuid"`
	CommandResponses struct {
		Success     map[string]string `json:"SUCCESS"`
		Failure     map[string]string `json:"FAILURE"`
		Blacklisted map[string]string `json:"BLACKLISTED"`
	} `json:"commandResponses"`
}

// RunReadOnly runs read-only commands on devices and waits for the result: read-request →
// task → fileId → file. The read request is a POST that changes nothing, so it may be retried.
func (c *Client) RunReadOnly(ctx context.Context, deviceIDs, commands []string, timeout int) ([]CommandResult, error) {
	var started envelope[struct {
		TaskID string `json:"taskId"`
	}]
	if _, err := c.api.Do(ctx, kit.Request{Method: http.MethodPost, Path: v1 + "/network-device-poller/cli/read-request",
		Idempotent: true, Body: map[string]any{"commands": commands, "deviceUuids": deviceIDs, "timeout": timeout}}, &started); err != nil {
		return nil, err
	}
	t, err := c.WaitTask(ctx, started.Response.TaskID)
	if err != nil {
		return nil, err
	}
	if t.IsError {
		return nil, fmt.Errorf("the Catalyst Center command runner task %s failed: %s", t.ID, t.FailureReason)
	}
	file := t.FileID()
	if file == "" {
		return nil, fmt.Errorf("command runner task %s finished without a result file", t.ID)
	}
	var out []CommandResult
	return out, c.get(ctx, v1+"/file/"+url.PathEscape(file), nil, &out)
}

// setNonEmpty adds the filters that were given and leaves out the empty ones (an absent
// filter means "any").
func setNonEmpty(q url.Values, filters map[string]string) {
	for k, v := range filters {
		if v != "" {
			q.Set(k, v)
		}
	}
}

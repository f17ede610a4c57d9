package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
)

// fakeController is an in-memory Catalyst Center: two templates, four devices, deploy
// tasks that end after two polls.
type fakeController struct {
	mu sync.Mutex
	// deploys are the deploy requests received, in order.
	deploys []fakeDeploy
	// failTask makes the task of a deploy of this version id fail with the reason.
	failTask map[string]string
	// deployErrs are returned by the next Deploy calls (nil entries succeed).
	deployErrs []error
	// unreachable devices; healthAfter is the health reported once a deploy happened.
	unreachable map[string]bool
	healthAfter map[string]int
	polls       map[string]int
	// lostBeforeActing: a deploy whose outcome is unknown was not acted on (the controller
	// failed before starting anything); otherwise it was, and its task exists.
	lostBeforeActing bool
	// findPending makes the next FindDeploy calls answer ErrPending; finds counts the calls.
	findPending int
	finds       int
}

type fakeDeploy struct {
	VersionID string
	Devices   []string
	Params    map[string]string
	TaskID    string
}

func newFakeController() *fakeController {
	return &fakeController{failTask: map[string]string{}, unreachable: map[string]bool{}, healthAfter: map[string]int{},
		polls: map[string]int{}}
}

var fakeTemplates = map[string]deploy.TemplateInfo{
	"tmpl-ntp":    {TemplateID: "tmpl-ntp", Name: "NTP-Servers", Version: 2, VersionID: "tmpl-ntp-v2"},
	"tmpl-ntp-v1": {TemplateID: "tmpl-ntp", Name: "NTP-Servers", Version: 1, VersionID: "tmpl-ntp-v1"},
}

var fakeDevices = map[string]string{"dev-1": "lon-b1-core-01", "dev-2": "lon-b1-acc-01", "dev-3": "nyc-hq-dist-01"}

func (f *fakeController) Template(_ context.Context, id string, version int) (deploy.TemplateInfo, error) {
	for _, t := range fakeTemplates {
		if t.TemplateID == id && t.Version == version {
			return t, nil
		}
	}
	return deploy.TemplateInfo{}, fmt.Errorf("%w: no template %s version %d", deploy.ErrNotFound, id, version)
}

func (f *fakeController) Devices(_ context.Context, ids []string) ([]deploy.DeviceHealth, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []deploy.DeviceHealth
	for _, id := range ids {
		host, ok := fakeDevices[id]
		if !ok {
			return nil, fmt.Errorf("%w: no device %s", deploy.ErrNotFound, id)
		}
		h := 9
		if v, ok := f.healthAfter[id]; ok && len(f.deploys) > 0 {
			h = v
		}
		out = append(out, deploy.DeviceHealth{ID: id, Hostname: host, ManagementIP: "10.0.0." + id[4:], Reachable: !f.unreachable[id], Health: h})
	}
	return out, nil
}

func (f *fakeController) Preview(_ context.Context, versionID string, params map[string]string) (deploy.Preview, error) {
	if params["ntp_primary"] == "" {
		return deploy.Preview{Errors: []string{"Value for the required parameter 'ntp_primary' is missing"}}, nil
	}
	return deploy.Preview{CLI: "ntp server " + params["ntp_primary"] + " prefer\n! " + versionID}, nil
}

func (f *fakeController) Deploy(_ context.Context, versionID string, devices []string, params map[string]string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.deployErrs) > 0 {
		err := f.deployErrs[0]
		f.deployErrs = f.deployErrs[1:]
		if err != nil {
			if !errors.Is(err, deploy.ErrNotSent) && !errors.Is(err, deploy.ErrRefused) && !f.lostBeforeActing {
				// The outcome is unknown to the caller: the controller did act on it.
				f.deploys = append(f.deploys, fakeDeploy{VersionID: versionID, Devices: slices.Clone(devices), Params: maps.Clone(params),
					TaskID: fmt.Sprintf("task-%d", len(f.deploys)+1)})
			}
			return "", err
		}
	}
	task := fmt.Sprintf("task-%d", len(f.deploys)+1)
	f.deploys = append(f.deploys, fakeDeploy{VersionID: versionID, Devices: slices.Clone(devices), Params: maps.Clone(params), TaskID: task})
	return task, nil
}

func (f *fakeController) Task(_ context.Context, id string) (deploy.TaskStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.deploys, func(d fakeDeploy) bool { return d.TaskID == id })
	if i < 0 {
		return deploy.TaskStatus{}, fmt.Errorf("%w: no task %s", deploy.ErrNotFound, id)
	}
	f.polls[id]++
	if f.polls[id] < 2 {
		return deploy.TaskStatus{TaskID: id, Progress: "Template deployment in progress"}, nil
	}
	st := deploy.TaskStatus{TaskID: id, Done: true, DeploymentID: "dep-" + id}
	if reason, ok := f.failTask[f.deploys[i].VersionID]; ok {
		st.Failed, st.FailureReason = true, reason
	}
	return st, nil
}

func (f *fakeController) FindDeploy(_ context.Context, t deploy.TemplateInfo, devices []string, _, _ time.Time) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finds++
	if f.findPending > 0 {
		f.findPending--
		return "", fmt.Errorf("%w: a task is running", deploy.ErrPending)
	}
	var found []string
	for _, d := range f.deploys {
		if d.VersionID == t.VersionID && slices.Equal(d.Devices, devices) {
			found = append(found, d.TaskID)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: no task", deploy.ErrNotFound)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%w: %v", deploy.ErrAmbiguous, found)
}

func (f *fakeController) deployed() []fakeDeploy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deploys)
}

// fakeChanges is an in-memory ServiceNow with the standard change model.
type fakeChanges struct {
	mu      sync.Mutex
	changes []*fakeChange
	// missing CIs; moveErr fails the next Advance.
	missing map[string]bool
	moveErr error
}

type fakeChange struct {
	deploy.NewChange
	Number     string
	State      string
	Notes      []string
	NoteKeys   []string
	CloseCode  string
	CloseNotes string
}

func newFakeChanges() *fakeChanges { return &fakeChanges{missing: map[string]bool{}} }

func (f *fakeChanges) find(number string) (*fakeChange, error) {
	for _, c := range f.changes {
		if c.Number == number {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: no change %s", deploy.ErrNotFound, number)
}

func (f *fakeChanges) MissingCIs(_ context.Context, names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		if f.missing[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

func (f *fakeChanges) Create(_ context.Context, c deploy.NewChange) (deploy.ChangeRef, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.changes {
		if ch.CorrelationID == c.CorrelationID {
			return deploy.ChangeRef{Number: ch.Number}, nil
		}
	}
	ch := &fakeChange{NewChange: c, Number: fmt.Sprintf("CHG%07d", 30001+len(f.changes)), State: "new"}
	f.changes = append(f.changes, ch)
	return deploy.ChangeRef{Number: ch.Number, URL: "https://sn.example/" + ch.Number}, nil
}

var fakePath = []string{"new", "scheduled", "implement", "review", "closed"}

func (f *fakeChanges) Advance(_ context.Context, number, to string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.moveErr; err != nil {
		f.moveErr = nil
		return err
	}
	c, err := f.find(number)
	if err != nil {
		return err
	}
	if slices.Index(fakePath, c.State) < slices.Index(fakePath, to) {
		c.State = to
	}
	return nil
}

func (f *fakeChanges) Note(_ context.Context, number, key, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.find(number)
	if err != nil {
		return err
	}
	if !slices.Contains(c.NoteKeys, key) {
		c.NoteKeys = append(c.NoteKeys, key)
		c.Notes = append(c.Notes, text)
	}
	return nil
}

func (f *fakeChanges) Close(_ context.Context, number string, ok bool, notes string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.find(number)
	if err != nil {
		return err
	}
	if c.State == "canceled" {
		return deploy.Permanent(errors.New("canceled"))
	}
	c.State, c.CloseNotes, c.CloseCode = "closed", notes, map[bool]string{true: "successful", false: "unsuccessful"}[ok]
	return nil
}

func (f *fakeChanges) Cancel(_ context.Context, number, notes string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.find(number)
	if err != nil {
		return err
	}
	if c.State == "closed" {
		return deploy.Permanent(errors.New("closed"))
	}
	c.State, c.CloseNotes = "canceled", notes
	return nil
}

func (f *fakeChanges) all() []fakeChange {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeChange
	for _, c := range f.changes {
		out = append(out, *c)
	}
	return out
}

// request is a valid request for the fakes: NTP-Servers v2 on two devices.
func request(now time.Time) deploy.Request {
	return deploy.Request{
		TemplateID: "tmpl-ntp", TemplateVersion: 2,
		Parameters: map[string]string{"ntp_primary": "10.0.0.1", "ntp_secondary": "10.0.0.2"},
		DeviceIDs:  []string{"dev-1", "dev-2"},
		Window:     deploy.Window{Start: now.Add(-time.Hour), End: now.Add(48 * time.Hour)},
		Requester:  deploy.Identity{Subject: "alice", Email: "alice@example.com"},
		DecisionID: "dec-start",
	}
}

func hasNote(notes []string, text string) bool {
	return slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, text) })
}

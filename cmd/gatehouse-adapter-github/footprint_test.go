package main

import (
	"net/http/httptest"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gatehouse-mcp/gatehouse/adapters/github/sim"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
)

// BenchmarkFootprint reports the binary size and resident memory of the adapter after 50
// tool calls against the simulator, as the GitHub App (targets: binary ≤ 20 MB, idle RSS ≤
// 20 MB).
//
//	go test ./cmd/gatehouse-adapter-github -run '^$' -bench Footprint -benchtime 1x
func BenchmarkFootprint(b *testing.B) {
	gh := sim.New(sim.Options{})
	up := httptest.NewServer(gh)
	defer up.Close()
	app := gh.AppSecret()
	repo := map[string]any{"owner": sim.Org, "repo": sim.TemplatesRepo}
	with := func(extra map[string]any) map[string]any {
		args := map[string]any{}
		for k, v := range repo {
			args[k] = v
		}
		for k, v := range extra {
			args[k] = v
		}
		return args
	}
	kittest.MeasureFootprint(b, kittest.Footprint{
		Package: ".", Upstream: up.URL, Count: 50,
		Env: []string{"GITHUB_ORGS=" + sim.Org,
			"GATEHOUSE_SECRET_GITHUB_APP_ID=" + app["app_id"],
			"GATEHOUSE_SECRET_GITHUB_INSTALLATION_ID=" + app["installation_id"],
			"GATEHOUSE_SECRET_GITHUB_PRIVATE_KEY=" + app["private_key"]},
		Calls: []mcp.CallToolParams{
			{Name: "get_file_contents", Arguments: with(map[string]any{"path": sim.NTPServersPath})},
			{Name: "list_directory", Arguments: with(map[string]any{"path": "catalyst-center"})},
			{Name: "get_pull_request", Arguments: with(map[string]any{"number": 3})},
			{Name: "list_commits", Arguments: with(nil)},
			{Name: "search_code", Arguments: map[string]any{"query": "ntp server"}},
		},
	})
	for i := 0; i < b.N; i++ {
	}
}

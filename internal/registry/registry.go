// Package registry lists the adapters built into this repository, for what needs all of
// them at once: the pinned tool catalog (`gatehouse-dev catalog`) and the local platform.
package registry

import (
	"slices"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter"
	"github.com/gatehouse-mcp/gatehouse/adapters/deployments"
	"github.com/gatehouse-mcp/gatehouse/adapters/github"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/radkit"
	"github.com/gatehouse-mcp/gatehouse/adapters/servicenow"
)

// Declarations returns one server per adapter with its tools registered but no upstream
// client: enough to read what each tool declares, never to call one.
func Declarations() []*kit.Server {
	cc := kit.NewServer(kit.Options{Name: catalystcenter.ServerName, Logger: zerolog.Nop()})
	catalystcenter.Register(cc, nil)
	sn := kit.NewServer(kit.Options{Name: servicenow.ServerName, Logger: zerolog.Nop()})
	servicenow.Register(sn, nil)
	gh := kit.NewServer(kit.Options{Name: github.ServerName, Logger: zerolog.Nop()})
	github.Register(gh, nil)
	rk := kit.NewServer(kit.Options{Name: radkit.ServerName, Logger: zerolog.Nop()})
	radkit.Register(rk, nil)
	dp := kit.NewServer(kit.Options{Name: deployments.ServerName, Logger: zerolog.Nop()})
	deployments.Register(dp, nil)
	return []*kit.Server{cc, sn, gh, rk, dp}
}

// Definitions returns each adapter's tools as its tools/list serves them on MCP 2025-11-25,
// by server: the kit's definitions, with the deployments server's task tools marked
// (execution.taskSupport), which that server adds to its listings itself.
func Definitions() (map[string][]mcp.Tool, error) {
	out := map[string][]mcp.Tool{}
	for _, s := range Declarations() {
		if err := s.Err(); err != nil {
			return nil, err
		}
		tools := s.Definitions()
		if s.Name() == deployments.ServerName {
			for i := range tools {
				if slices.Contains(deployments.TaskTools(), tools[i].Name) {
					tools[i].Execution = &mcp.ToolExecution{TaskSupport: mcp.TaskSupportOptional}
				}
			}
		}
		out[s.Name()] = tools
	}
	return out, nil
}

// Package registry lists the adapters built into this repository, for what needs all of
// them at once: the pinned tool catalog (`gatehouse catalog`) and the local platform.
package registry

import (
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

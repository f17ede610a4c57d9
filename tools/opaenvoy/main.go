// Command opa-envoy is stock OPA with the opa-envoy-plugin's ext_authz gRPC server, built at
// the versions Gatehouse embeds, for the side-by-side benchmark (make bench-compare). It is a
// separate module so OPA's command-line dependencies stay out of Gatehouse's go.mod.
package main

import (
	"os"

	"github.com/open-policy-agent/opa-envoy-plugin/plugin"
	"github.com/open-policy-agent/opa/cmd"
	"github.com/open-policy-agent/opa/v1/runtime"
)

func main() {
	runtime.RegisterPlugin(plugin.PluginName, plugin.Factory{})
	if err := cmd.RootCommand.Execute(); err != nil {
		os.Exit(1)
	}
}

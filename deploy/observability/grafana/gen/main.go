// Command gen writes every dashboard of package grafana as <uid>.json into the current
// directory (go generate in deploy/observability/grafana).
package main

import (
	"fmt"
	"os"

	"github.com/gatehouse-mcp/gatehouse/deploy/observability/grafana"
)

func main() {
	for _, d := range grafana.Dashboards() {
		j, err := grafana.JSON(d)
		if err == nil {
			err = os.WriteFile(d.UID+".json", j, 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

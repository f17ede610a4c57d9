package observability

import (
	"os/exec"
	"strings"
	"testing"
)

// The recording and alerting rules load in Prometheus (promtool check rules) and each alert
// fires on the situation it names and stays quiet otherwise (promtool test rules,
// prometheus/alerts_test.yml).
func TestPrometheusRules(t *testing.T) {
	promtool := promBin(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", "prometheus/recording.yml", "prometheus/alerts.yml"},
		{"test", "rules", "prometheus/alerts_test.yml"},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

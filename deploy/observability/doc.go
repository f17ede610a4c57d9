// Package observability holds Gatehouse's operator pack as files (Prometheus rules, their
// promtool tests, dashboards) and the Go tests that prove them against the running platform:
// that every metric the seed names exists with its type and bounded labels, and that the
// rules pass `promtool test rules`. See README.md.
package observability

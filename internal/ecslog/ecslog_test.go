package ecslog_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
)

func TestECSFields(t *testing.T) {
	var buf bytes.Buffer
	log, err := ecslog.New(&buf, "gatehouse-test", "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug().Msg("hidden")
	log.Info().Str("event.action", "x").Msg("hello")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	for k, want := range map[string]any{"log.level": "info", "message": "hello", "ecs.version": ecslog.ECSVersion,
		"service.name": "gatehouse-test", "event.action": "x"} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	if _, ok := m["@timestamp"]; !ok {
		t.Error("no @timestamp")
	}
	if _, err := ecslog.New(&buf, "x", "loud", "json"); err == nil {
		t.Error("bad level accepted")
	}
	if _, err := ecslog.New(&buf, "x", "info", "xml"); err == nil {
		t.Error("bad format accepted")
	}
}

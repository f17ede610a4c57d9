package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/internal/testkit"

	"github.com/gatehouse-mcp/gatehouse/internal/ecslog/ecslogtest"
)

func repo(parts ...string) string { return testkit.Root(parts...) }

func TestPolicyTestCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"policy", "test", "--dir", repo("policies")}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "accepted") || !strings.Contains(out.String(), "Rego tests passed") {
		t.Fatalf("output %q", out.String())
	}
	bad := t.TempDir()
	if err := run(context.Background(), []string{"policy", "test", "--dir", bad}, &out, &out); err == nil {
		t.Fatal("an empty directory passed")
	}
}

// The authz command starts from the example config and stops cleanly when asked to.
func TestAuthzCommandStartsAndStops(t *testing.T) {
	cfg, err := os.ReadFile(repo("gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("127.0.0.1:9191", "127.0.0.1:0", "127.0.0.1:9192", "127.0.0.1:0",
		"dir: policies", "dir: "+repo("policies")).Replace(string(cfg))
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out ecslogtest.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"authz", "--config", path}, &out, &out) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "authz service listening") {
		if time.Now().After(deadline) {
			t.Fatalf("did not start:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stopped with %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not stop")
	}
	if !strings.Contains(out.String(), "shutting down") {
		t.Fatalf("no shutdown log:\n%s", out.String())
	}
}

func TestUnknownCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"frobnicate"}, &out, &out); err == nil {
		t.Fatal("accepted an unknown command")
	}
	if err := run(context.Background(), []string{"authz", "--config", "/does/not/exist.yaml"}, &out, &out); err == nil {
		t.Fatal("started without a config")
	}
}

package observability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	rksim "github.com/gatehouse-mcp/gatehouse/adapters/radkit/sim"
	snsim "github.com/gatehouse-mcp/gatehouse/adapters/servicenow/sim"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/stack"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
	"github.com/gatehouse-mcp/gatehouse/workflows/devserver"
)

// ecsField is one field of the pinned ECS subset (ecs/fields.yml).
type ecsField struct {
	Type  string `yaml:"type"`
	Array bool   `yaml:"array"`
}

type ecsSchema struct {
	Version string              `yaml:"ecs_version"`
	Source  string              `yaml:"source"`
	Fields  map[string]ecsField `yaml:"fields"`
}

func loadECS(t *testing.T) ecsSchema {
	t.Helper()
	b, err := os.ReadFile("ecs/fields.yml")
	if err != nil {
		t.Fatal(err)
	}
	var s ecsSchema
	if err := yaml.Unmarshal(b, &s); err != nil || s.Version == "" || len(s.Fields) == 0 {
		t.Fatalf("ecs/fields.yml: %v", err)
	}
	return s
}

// validateLine checks one JSON log line: every key is a known ECS field with a value of its
// type, or a Gatehouse field under gatehouse.*; returns the problems.
func (s ecsSchema) validateLine(line []byte) []string {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return []string{"not a JSON object: " + err.Error()}
	}
	var bad []string
	for k, v := range m {
		if strings.HasPrefix(k, "gatehouse.") {
			continue
		}
		f, ok := s.Fields[k]
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: not an ECS %s field (Gatehouse's own go under gatehouse.*)", k, s.Version))
			continue
		}
		if err := f.check(v); err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", k, err))
		}
	}
	if m["ecs.version"] != s.Version {
		bad = append(bad, fmt.Sprintf("ecs.version %v, the pinned schema is %s", m["ecs.version"], s.Version))
	}
	for _, req := range []string{"@timestamp", "log.level", "message", "service.name"} {
		if _, ok := m[req]; !ok {
			bad = append(bad, req+" missing")
		}
	}
	return bad
}

func (f ecsField) check(v any) error {
	if arr, ok := v.([]any); ok {
		if !f.Array {
			return fmt.Errorf("an array, ECS has a single %s", f.Type)
		}
		for _, e := range arr {
			if err := f.checkOne(e); err != nil {
				return err
			}
		}
		return nil
	}
	return f.checkOne(v)
}

func (f ecsField) checkOne(v any) error {
	switch f.Type {
	case "keyword", "wildcard", "match_only_text", "text", "ip":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%T, ECS type %s wants a string", v, f.Type)
		}
	case "long":
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%T, ECS type long wants an integer", v)
		}
		if _, err := n.Int64(); err != nil {
			return fmt.Errorf("%s is not an integer (long)", n)
		}
	case "date":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%T, ECS type date wants an RFC 3339 string", v)
		}
		if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
			return fmt.Errorf("%q is not an RFC 3339 date", str)
		}
	case "object":
		if _, ok := v.(map[string]any); !ok {
			return fmt.Errorf("%T, ECS type object", v)
		}
	default:
		return fmt.Errorf("unknown ECS type %s in ecs/fields.yml", f.Type)
	}
	return nil
}

// lines is a concurrency-safe log sink that keeps every line.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) all() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

// The validator itself: known fields with their types pass; an unknown field, a field
// outside gatehouse.*, a number where ECS has a keyword, and a bad date fail.
func TestECSValidator(t *testing.T) {
	s := loadECS(t)
	good := `{"@timestamp":"2026-12-01T01:00:00.123Z","log.level":"info","message":"m","service.name":"authz","ecs.version":"` + s.Version +
		`","event.category":["web","iam"],"event.duration":1200,"http.response.status_code":403,"gatehouse.decision_id":"d-1"}`
	if bad := s.validateLine([]byte(good)); len(bad) != 0 {
		t.Fatalf("a valid line refused: %v", bad)
	}
	for _, tc := range []struct{ add, want string }{
		{`"decision_id":"d"`, "not an ECS"},
		{`"error.code":-32003`, "wants a string"},
		{`"tls.server.not_after":"tomorrow"`, "not an RFC 3339 date"},
		{`"event.duration":"1ms"`, "wants an integer"},
		{`"event.action":["a","b"]`, "an array"},
	} {
		line := strings.TrimSuffix(good, "}") + "," + tc.add + "}"
		if bad := s.validateLine([]byte(line)); !strings.Contains(strings.Join(bad, ";"), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.add, bad, tc.want)
		}
	}
}

// The platform's log lines — authz decisions (allowed, denied, unauthenticated), adapter
// tool calls and upstream requests, the deployments worker and adapter over a real Temporal —
// are all valid ECS, and none carries a token or a secret the run used.
func TestPlatformLogsAreECSAndSecretFree(t *testing.T) {
	schema := loadECS(t)
	temporal := devserver.Bin(t)
	sink := &lines{}
	log, err := ecslog.New(sink, "gatehouse-dev", "debug", "json")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{PolicyDir: testkit.Root("policies"), Log: log, TemporalBin: temporal})
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, s)
	nina := connect(t, s, "deployments", "nina")
	if res, err := call(nina, "list_my_deployments", map[string]any{}); err != nil || res.IsError {
		t.Fatalf("list_my_deployments: %v %+v", err, res)
	}
	// The secrets of this run: every user's bearer token, and what the adapters hold for
	// their upstreams (the simulators' credentials, the GitHub App's key).
	secrets := map[string]string{
		"Catalyst Center password": "C1sco12345",
		"ServiceNow client secret": snsim.DefaultClientSecret,
		"RADKit bridge token":      rksim.DefaultBridgeToken,
	}
	for _, u := range []string{"nina", "sam", "dana", "admin"} {
		tok, err := s.Token(u)
		if err != nil {
			t.Fatal(err)
		}
		secrets[u+"'s access token"] = tok
		// A JWT's signature alone must not leak either.
		secrets[u+"'s token signature"] = tok[strings.LastIndex(tok, ".")+1:]
	}
	for k, v := range s.GHSim.AppSecret() {
		if k == "private_key" {
			secrets["GitHub App private key"] = strings.Split(strings.TrimSpace(v), "\n")[1] // a line of its base64
		}
	}
	s.Stop() // every component has written its last line

	all := sink.all()
	if len(all) < 20 {
		t.Fatalf("only %d log lines", len(all))
	}
	actions := map[string]int{}
	for i, line := range all {
		for _, p := range schema.validateLine(line) {
			t.Errorf("line %d: %s\n%s", i, p, line)
		}
		for what, v := range secrets {
			if v != "" && bytes.Contains(line, []byte(v)) {
				t.Errorf("line %d carries %s", i, what)
			}
		}
		var m struct {
			Action string `json:"event.action"`
		}
		_ = json.Unmarshal(line, &m)
		actions[m.Action]++
	}
	t.Logf("%d lines checked; event.action counts %v", len(all), actions)
	// The lines checked include the representative ones.
	for _, a := range []string{"mcp-authorize", "tool-call"} {
		if actions[a] == 0 {
			t.Errorf("no %s line among %d (actions %v)", a, len(all), actions)
		}
	}
}

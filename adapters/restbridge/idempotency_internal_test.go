package restbridge

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestIdempotencyStore(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := newIdemStore(time.Hour, 3, 1<<20, func() time.Time { return now })
	fp := func(v int) [32]byte {
		b, err := fingerprint(map[string]any{"v": v})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sc := idemScope{subject: "sam", server: "servicenow", tool: "create_incident", key: "k"}
	e, st := s.begin(sc, fp(1))
	if st != idemNew {
		t.Fatalf("state %d", st)
	}
	// While the first call runs, a repeat is told so (409), and other arguments are refused.
	if _, st := s.begin(sc, fp(1)); st != idemRunning {
		t.Fatalf("state %d, want running", st)
	}
	if _, st := s.begin(sc, fp(2)); st != idemMismatch {
		t.Fatalf("state %d, want mismatch", st)
	}
	s.finish(e, &response{status: 200, header: http.Header{}, body: []byte("first")}, true)
	if e, st := s.begin(sc, fp(1)); st != idemReplay || string(e.resp.body) != "first" {
		t.Fatalf("state %d", st)
	}
	// A failure to reach the tool releases the key: the retry runs.
	sc2 := sc
	sc2.key = "k2"
	e2, _ := s.begin(sc2, fp(1))
	s.finish(e2, &response{status: 503}, false)
	if _, st := s.begin(sc2, fp(1)); st != idemNew {
		t.Fatalf("a released key: state %d", st)
	}
	// Bounded: beyond 3 keys the oldest finished ones go; running ones stay.
	for i := range 5 {
		k := sc
		k.key = fmt.Sprint("n", i)
		e, _ := s.begin(k, fp(1))
		s.finish(e, &response{status: 200, body: []byte("x")}, true)
	}
	if n := s.len(); n > 3 {
		t.Fatalf("%d keys held, bound 3", n)
	}
	if _, st := s.begin(sc2, fp(1)); st != idemRunning {
		t.Fatal("a running key was evicted")
	}
	// Expired after the TTL.
	now = now.Add(time.Hour + time.Second)
	if _, st := s.begin(sc, fp(1)); st != idemNew {
		t.Fatalf("after the TTL: state %d", st)
	}
	// Bounded by bytes too.
	small := newIdemStore(time.Hour, 100, 1000, func() time.Time { return now })
	for i := range 10 {
		e, _ := small.begin(idemScope{key: fmt.Sprint(i)}, fp(1))
		small.finish(e, &response{status: 200, body: make([]byte, 300)}, true)
	}
	if small.bytes > 1000 || small.len() > 3 {
		t.Fatalf("%d bytes in %d keys, bound 1000 bytes", small.bytes, small.len())
	}
}

func TestCheckKey(t *testing.T) {
	for in, want := range map[string]string{"abc-123": "abc-123", `"8e03978e-40d5"`: "8e03978e-40d5"} {
		if got, err := checkKey(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, in := range []string{"", `""`, "a b", "ä", `a"b`} {
		if _, err := checkKey(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestArgumentProblem(t *testing.T) {
	p, ok := argumentProblem("list_devices", `invalid arguments for list_devices: missing required argument "device_ids"; unknown argument "filter.x"; argument "items[2].name" must be a string (got an integer); arguments must have at least 1 members (got 0)`)
	if !ok || p.status != 400 {
		t.Fatal(p, ok)
	}
	var names []string
	for _, ip := range p.invalidParams {
		names = append(names, ip.Name)
	}
	if fmt.Sprint(names) != "[device_ids filter.x items[2].name arguments]" {
		t.Fatal(names)
	}
	if _, ok := argumentProblem("list_devices", "invalid arguments for get_device: x"); ok {
		t.Fatal("another tool's refusal taken for this one's")
	}
	if _, ok := argumentProblem("list_devices", "Catalyst Center: GET … answered 404"); ok {
		t.Fatal("a tool error taken for an argument error")
	}
}

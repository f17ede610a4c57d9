package restbridge

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
)

// IdempotencyHeader is the request header that makes a write or execute call safe to repeat
// (draft-ietf-httpapi-idempotency-key-header): a repeat with the same key, from the same
// caller, with the same arguments, within the retention time gets the first answer again
// instead of running the tool twice.
const IdempotencyHeader = "Idempotency-Key"

// ReplayedHeader marks an answer replayed from the idempotency store.
const ReplayedHeader = "Idempotent-Replayed"

// Idempotency store defaults.
const (
	DefaultIdempotencyTTL        = 24 * time.Hour
	DefaultIdempotencyMaxEntries = 10000
	DefaultIdempotencyMaxBytes   = 64 << 20
	maxIdempotencyKeyLen         = 255
)

// idemScope is what one key is unique within: a caller's key never matches another caller's,
// nor another tool's call.
type idemScope struct {
	subject, server, tool, key string
}

type idemEntry struct {
	scope       idemScope
	fingerprint [sha256.Size]byte
	created     time.Time
	resp        *response // nil while the first call runs
	size        int
	elem        *list.Element
}

// idempotencyStore keeps the first answers of keyed calls: in memory per replica (memStore,
// the default) or in Redis, shared by every replica (redisStore, idemredis.go). begin claims a
// new key (idemNew: the caller runs the call, then finish with the ticket) or reports what the
// key holds (first is the answer to replay, for idemReplay).
type idempotencyStore interface {
	begin(ctx context.Context, sc idemScope, fp [sha256.Size]byte) (ticket any, state idemState, first *response, err error)
	finish(ctx context.Context, ticket any, resp *response, keep bool) error
	close() error
}

// memStore is the in-memory idemStore behind the idempotencyStore interface.
type memStore struct{ s *idemStore }

func (m memStore) begin(_ context.Context, sc idemScope, fp [sha256.Size]byte) (any, idemState, *response, error) {
	e, state := m.s.begin(sc, fp)
	if state == idemReplay {
		return nil, state, e.resp, nil
	}
	return e, state, nil, nil
}

func (m memStore) finish(_ context.Context, ticket any, resp *response, keep bool) error {
	m.s.finish(ticket.(*idemEntry), resp, keep)
	return nil
}

func (memStore) close() error { return nil }

// idemStore keeps first answers in memory, per replica: bounded by entries and bytes, the
// oldest finished entries evicted first, every entry dropped after its TTL.
type idemStore struct {
	mu         sync.Mutex
	ttl        time.Duration
	maxEntries int
	maxBytes   int
	bytes      int
	entries    map[idemScope]*idemEntry
	order      *list.List // by creation, oldest first
	now        func() time.Time
}

func newIdemStore(ttl time.Duration, maxEntries, maxBytes int, now func() time.Time) *idemStore {
	return &idemStore{ttl: ttl, maxEntries: maxEntries, maxBytes: maxBytes, now: now,
		entries: map[idemScope]*idemEntry{}, order: list.New()}
}

// idemState is what begin found.
type idemState int

const (
	idemNew      idemState = iota // no such key: the caller runs the call, then finish
	idemReplay                    // the first answer is in entry.resp
	idemMismatch                  // the key was used with other arguments
	idemRunning                   // the first call with this key has not finished
)

// fingerprint identifies a call's arguments independently of their formatting: the
// canonical JSON (sorted keys, numbers as written) of the parsed arguments.
func fingerprint(args map[string]any) ([sha256.Size]byte, error) {
	b, err := json.Marshal(args)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// checkKey validates an Idempotency-Key value: 1 to 255 visible ASCII characters; the
// draft's structured-field form ("…") is accepted and unquoted.
func checkKey(v string) (string, error) {
	if len(v) >= 2 && strings.HasPrefix(v, `"`) && strings.HasSuffix(v, `"`) {
		v = v[1 : len(v)-1]
	}
	if v == "" || len(v) > maxIdempotencyKeyLen {
		return "", fmt.Errorf("the %s header must be 1 to %d characters", IdempotencyHeader, maxIdempotencyKeyLen)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e || v[i] == '"' || v[i] == '\\' {
			return "", fmt.Errorf("the %s header must be visible ASCII characters without quotes or backslashes", IdempotencyHeader)
		}
	}
	return v, nil
}

// begin looks the scope up. For idemNew it has reserved the key: the caller must call finish.
func (s *idemStore) begin(sc idemScope, fp [sha256.Size]byte) (*idemEntry, idemState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	if e, ok := s.entries[sc]; ok {
		switch {
		case e.fingerprint != fp:
			return e, idemMismatch
		case e.resp == nil:
			return e, idemRunning
		default:
			return e, idemReplay
		}
	}
	e := &idemEntry{scope: sc, fingerprint: fp, created: s.now()}
	e.elem = s.order.PushBack(e)
	s.entries[sc] = e
	s.evict()
	return e, idemNew
}

// finish records the first answer (keep) or releases the key so that a retry runs the call
// again (the call did not reach the tool, or its outcome is unknown to the bridge).
func (s *idemStore) finish(e *idemEntry, resp *response, keep bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries[e.scope] != e {
		return // expired or evicted meanwhile
	}
	if !keep {
		s.remove(e)
		return
	}
	e.resp, e.size = resp, resp.size()
	s.bytes += e.size
	s.evict()
}

func (s *idemStore) remove(e *idemEntry) {
	delete(s.entries, e.scope)
	s.order.Remove(e.elem)
	s.bytes -= e.size
}

// expire drops entries older than the TTL (they are in creation order).
func (s *idemStore) expire() {
	cutoff := s.now().Add(-s.ttl)
	for el := s.order.Front(); el != nil; {
		e := el.Value.(*idemEntry)
		if e.created.After(cutoff) {
			return
		}
		el = el.Next()
		s.remove(e)
	}
}

// evict drops the oldest finished entries while the store is over either bound. Entries
// whose first call still runs are kept: dropping one would let a concurrent repeat run.
func (s *idemStore) evict() {
	for el := s.order.Front(); el != nil && (len(s.entries) > s.maxEntries || s.bytes > s.maxBytes); {
		e := el.Value.(*idemEntry)
		el = el.Next()
		if e.resp != nil {
			s.remove(e)
		}
	}
}

// len is the number of keys held (tests).
func (s *idemStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

package restbridge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// The idempotency store shared by every bridge replica, in Redis: a retry that lands on
// another replica gets the first answer too.
//
// One key per scope (caller, server, tool, Idempotency-Key), named by a hash so that no
// subject or key appears in Redis. The first call claims it with SET NX and a lease (the
// longest a call can run, plus a minute): a replica that dies mid-call frees the key when the
// lease ends, and a retry then runs the call again, as after any call whose outcome the
// bridge cannot know. The answer replaces the claim for the rest of the retention time, only
// if the claim is still this call's (a compare-and-set script). Redis bounds memory (its
// maxmemory policy), not the bridge.

const redisKeyPrefix = "gatehouse:rest-bridge:idempotency:"

// maxKeptBody bounds an answer kept in Redis: a larger one is replaced by a 409 problem that
// says the call ran (so a retry never runs it again) and its answer was not kept.
const maxKeptBody = 256 << 10

// redisRecord is a key's value: a claim while the first call runs, then its answer.
type redisRecord struct {
	Fingerprint string      `json:"fp"`
	Claim       string      `json:"claim,omitempty"` // set while the first call runs
	Created     time.Time   `json:"created"`
	Status      int         `json:"status,omitempty"`
	Header      http.Header `json:"header,omitempty"`
	Body        []byte      `json:"body,omitempty"`
}

type redisStore struct {
	c     *redis.Client
	ttl   time.Duration
	lease time.Duration
	now   func() time.Time
}

// redisTicket is a claimed key.
type redisTicket struct {
	key, claimed string // the key, and the claim's exact value
	created      time.Time
	fingerprint  string
}

// finishScript replaces (or, without a new value, deletes) a key only while it still holds
// this call's claim.
var finishScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == "" then return redis.call("DEL", KEYS[1]) end
redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3])
return 1`)

func newRedisStore(url string, ttl, lease time.Duration, now func() time.Time) (*redisStore, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("idempotency store: %w", err)
	}
	return &redisStore{c: redis.NewClient(opts), ttl: ttl, lease: lease, now: now}, nil
}

// redisLog routes go-redis's own messages (pool dial failures) to the bridge's log instead of
// plain lines on stderr; the bridge logs each failed request itself.
type redisLog struct{ log zerolog.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug().Str("event.action", "redis-client").Msg(fmt.Sprintf(format, v...))
}

func (s *redisStore) redisKey(sc idemScope) string {
	h := sha256.New()
	for _, part := range []string{sc.subject, sc.server, sc.tool, sc.key} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return redisKeyPrefix + hex.EncodeToString(h.Sum(nil))
}

func (s *redisStore) begin(ctx context.Context, sc idemScope, fp [sha256.Size]byte) (any, idemState, *response, error) {
	key, fps := s.redisKey(sc), hex.EncodeToString(fp[:])
	for attempt := 0; attempt < 3; attempt++ {
		var nonce [16]byte
		_, _ = rand.Read(nonce[:])
		rec := redisRecord{Fingerprint: fps, Claim: hex.EncodeToString(nonce[:]), Created: s.now().UTC()}
		val, _ := json.Marshal(rec)
		ok, err := s.c.SetNX(ctx, key, val, s.lease).Result()
		if err != nil {
			return nil, 0, nil, fmt.Errorf("idempotency store: %w", err)
		}
		if ok {
			return &redisTicket{key: key, claimed: string(val), created: rec.Created, fingerprint: fps}, idemNew, nil, nil
		}
		raw, err := s.c.Get(ctx, key).Bytes()
		if errors.Is(err, redis.Nil) {
			continue // it expired between the two commands: claim it again
		}
		if err != nil {
			return nil, 0, nil, fmt.Errorf("idempotency store: %w", err)
		}
		var have redisRecord
		if err := json.Unmarshal(raw, &have); err != nil {
			return nil, 0, nil, fmt.Errorf("idempotency store: key %s holds no record: %w", key, err)
		}
		switch {
		case have.Fingerprint != fps:
			return nil, idemMismatch, nil, nil
		case have.Claim != "":
			return nil, idemRunning, nil, nil
		}
		return nil, idemReplay, &response{status: have.Status, header: have.Header, body: have.Body}, nil
	}
	return nil, 0, nil, errors.New("idempotency store: the key keeps expiring")
}

func (s *redisStore) finish(ctx context.Context, ticket any, resp *response, keep bool) error {
	t := ticket.(*redisTicket)
	next, px := "", int64(0)
	if keep {
		px = (s.ttl - s.now().Sub(t.created)).Milliseconds()
		if px <= 0 {
			keep = false // past the retention already: nothing to keep
		} else {
			if len(resp.body) > maxKeptBody {
				resp = problemResponse(&problem{status: http.StatusConflict, detail: fmt.Sprintf("the first call with this %s ran; "+
					"its answer (%d bytes) was too large to keep for retries, so the call is not run again", IdempotencyHeader, len(resp.body))}, "", "", "")
			}
			b, err := json.Marshal(redisRecord{Fingerprint: t.fingerprint, Created: t.created, Status: resp.status,
				Header: resp.header, Body: resp.body})
			if err != nil {
				return err
			}
			next = string(b)
		}
	}
	if err := finishScript.Run(ctx, s.c, []string{t.key}, t.claimed, next, px).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("idempotency store: %w", err)
	}
	return nil
}

func (s *redisStore) close() error { return s.c.Close() }

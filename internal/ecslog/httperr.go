package ecslog

import (
	"errors"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// HTTPErrorLog is an http.Server's ErrorLog that writes ECS lines instead of the standard
// library's plain text: a failed TLS handshake (a client without the edge's certificate, a
// scanner, a plain-HTTP request on a TLS port) becomes event.action "tls-handshake" with
// client.address, anything else "http-server-error". At most burst lines are written per
// second; the next line written says how many were left out, so a flood of bad handshakes
// cannot become a flood of logs.
func HTTPErrorLog(l zerolog.Logger, burst int) *log.Logger {
	return log.New(&httpErrors{log: l, limit: limiter{burst: burst}}, "", 0)
}

// HandshakeFailures reports a failed TLS handshake on a port the http package does not serve
// (the authz service's gRPC port) as HTTPErrorLog does: one "tls-handshake" line with the
// client's address and the reason, at most burst a second. A connection closed before its
// first byte (io.EOF: a TCP probe, a port scan) is not a handshake and is not logged.
func HandshakeFailures(l zerolog.Logger, burst int) func(client net.Addr, err error) {
	lim := &limiter{burst: burst}
	return func(client net.Addr, err error) {
		if errors.Is(err, io.EOF) {
			return
		}
		ok, suppressed := lim.allow()
		if !ok {
			return
		}
		addr := ""
		if client != nil {
			addr = client.String()
		}
		handshakeEvent(l, addr, err.Error(), suppressed)
	}
}

// limiter lets burst lines through per second and counts the rest.
type limiter struct {
	burst      int
	mu         sync.Mutex
	window     time.Time
	written    int
	suppressed int
}

// allow says whether a line may be written now and, if so, how many were left out before it.
func (l *limiter) allow() (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.window) >= time.Second {
		l.window, l.written = now, 0
	}
	if l.written >= l.burst {
		l.suppressed++
		return false, 0
	}
	l.written++
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}

type httpErrors struct {
	log   zerolog.Logger
	limit limiter
}

func (h *httpErrors) Write(p []byte) (int, error) {
	ok, suppressed := h.limit.allow()
	if !ok {
		return len(p), nil
	}
	msg := strings.TrimSpace(string(p))
	if rest, ok := strings.CutPrefix(msg, "http: TLS handshake error from "); ok {
		// "http: TLS handshake error from 127.0.0.1:46380: remote error: tls: bad certificate"
		addr, reason, _ := strings.Cut(rest, ": ")
		handshakeEvent(h.log, addr, reason, suppressed)
		return len(p), nil
	}
	ev := h.log.Warn().Str("event.kind", "event").Str("event.outcome", "failure").
		Str("event.action", "http-server-error").Str("error.message", msg)
	if suppressed > 0 {
		ev = ev.Int("gatehouse.suppressed", suppressed)
	}
	ev.Msg("HTTP server error")
	return len(p), nil
}

// handshakeEvent writes one failed handshake; addr is the client's host:port.
func handshakeEvent(l zerolog.Logger, addr, reason string, suppressed int) {
	ev := l.Warn().Str("event.kind", "event").Str("event.outcome", "failure").
		Str("event.action", "tls-handshake").Strs("event.category", []string{"network"}).Str("error.message", reason)
	if host, _, err := net.SplitHostPort(addr); err == nil {
		ev = ev.Str("client.address", host)
	}
	if suppressed > 0 {
		ev = ev.Int("gatehouse.suppressed", suppressed)
	}
	ev.Msg("TLS handshake failed")
}

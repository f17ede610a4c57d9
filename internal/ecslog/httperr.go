package ecslog

import (
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
	return log.New(&httpErrors{log: l, burst: burst}, "", 0)
}

type httpErrors struct {
	log        zerolog.Logger
	burst      int
	mu         sync.Mutex
	window     time.Time
	written    int
	suppressed int
}

func (h *httpErrors) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	h.mu.Lock()
	now := time.Now()
	if now.Sub(h.window) >= time.Second {
		h.window, h.written = now, 0
	}
	if h.written >= h.burst {
		h.suppressed++
		h.mu.Unlock()
		return len(p), nil
	}
	h.written++
	suppressed := h.suppressed
	h.suppressed = 0
	h.mu.Unlock()

	ev := h.log.Warn().Str("event.kind", "event").Str("event.outcome", "failure")
	if rest, ok := strings.CutPrefix(msg, "http: TLS handshake error from "); ok {
		// "http: TLS handshake error from 127.0.0.1:46380: remote error: tls: bad certificate"
		addr, reason, _ := strings.Cut(rest, ": ")
		if host, _, err := net.SplitHostPort(addr); err == nil {
			ev = ev.Str("client.address", host)
		}
		ev = ev.Str("event.action", "tls-handshake").Strs("event.category", []string{"network"}).Str("error.message", reason)
		msg = "TLS handshake failed"
	} else {
		ev = ev.Str("event.action", "http-server-error").Str("error.message", msg)
		msg = "HTTP server error"
	}
	if suppressed > 0 {
		ev = ev.Int("gatehouse.suppressed", suppressed)
	}
	ev.Msg(msg)
	return len(p), nil
}

package tracing

import (
	"io"
	"net/http"
	"strconv"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Transport makes every request sent through base a client span, child of the request's
// context, and sends its trace context upstream. label names the upstream (servicenow, github).
// The span records the method, the host and the status, never the path or query: upstream
// paths and queries hold argument values (a record id, a search).
func Transport(base http.RoundTripper, label string) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base, label: label}
}

type transport struct {
	base  http.RoundTripper
	label string
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !Enabled() {
		return t.base.RoundTrip(req)
	}
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", req.Method),
		attribute.String("server.address", req.URL.Hostname()),
		Upstream.String(t.label),
	}
	if p := req.URL.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			attrs = append(attrs, attribute.Int("server.port", n))
		}
	}
	ctx, span := Tracer("upstream").Start(req.Context(), req.Method,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	out := req.Clone(ctx) // a RoundTripper must not change the caller's request
	ToHTTP(ctx, out.Header)
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		span.SetStatus(codes.Error, "request failed")
		span.End()
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 500 {
		span.SetStatus(codes.Error, strconv.Itoa(resp.StatusCode))
	}
	resp.Body = &spanBody{ReadCloser: resp.Body, span: span}
	return resp, nil
}

// spanBody ends the span when the caller is done with the answer.
type spanBody struct {
	io.ReadCloser
	span trace.Span
	once sync.Once
}

func (b *spanBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.span.End() })
	return err
}

// Handler makes each request next serves a server span named name, the child of the
// caller's traceparent (the edge's), when tracing is on: the method, the status and what attrs
// (if set) reads from the request.
func Handler(component, name string, attrs func(*http.Request) []attribute.KeyValue, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Enabled() {
			next.ServeHTTP(w, r)
			return
		}
		kv := []attribute.KeyValue{attribute.String("http.request.method", r.Method)}
		if attrs != nil {
			kv = append(kv, attrs(r)...)
		}
		ctx, span := Tracer(component).Start(FromHTTP(r.Context(), r.Header), name,
			trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(kv...))
		defer span.End()
		rec := &StatusRecorder{ResponseWriter: w, Status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", rec.Status))
		if rec.Status >= 500 {
			span.SetStatus(codes.Error, strconv.Itoa(rec.Status))
		}
	})
}

// StatusRecorder remembers the status a handler answered (for a span, or an access log)
// and keeps flushing working (SSE).
type StatusRecorder struct {
	http.ResponseWriter
	Status int
}

func (s *StatusRecorder) WriteHeader(code int) {
	s.Status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *StatusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *StatusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

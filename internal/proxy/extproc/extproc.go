// Package extproc is the edge's response-side processor: an Envoy ext_proc v3 server (the dev
// edge speaks the same protocol to it). For every request the authz service allowed, Envoy
// opens one processing stream: the request's headers first (with the authz decision's dynamic
// metadata), then the response's headers and, when the processor asks for it, the response
// body — JSON buffered here, server-sent events one event at a time. What to change is
// decided by a Guard; this package only speaks the protocol and frames bodies.
//
// It fails closed: a body it cannot process is replaced by an error (before the response
// headers went out) or the stream is reset (after).
package extproc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

// MetadataNamespace is where Envoy's ext_authz filter puts the dynamic metadata of a
// CheckResponse, and where this processor reads it (ext_proc forwards the namespace).
const MetadataNamespace = "envoy.filters.http.ext_authz"

// MaxBody bounds a JSON response body the processor holds to rewrite it. Lists are small; a
// larger body is refused (fail closed) rather than passed unexamined.
const MaxBody = 16 << 20

// BodyMode says what the processor wants of a response body.
type BodyMode int

// Body modes.
const (
	BodyNone   BodyMode = iota // pass it as it is
	BodyJSON                   // the whole body, once: one JSON-RPC message
	BodyEvents                 // server-sent events, each event's data as it completes
)

// Guard decides what happens to one exchange.
type Guard interface {
	// Begin starts an exchange from the authz service's metadata for the request (nil when
	// the authz service left none: an exempt route). A nil Exchange means: change nothing.
	Begin(meta *structpb.Struct) Exchange
}

// Exchange is one request/response pair.
type Exchange interface {
	// ResponseHeaders sees the response headers (lower-case names) and returns headers to
	// set and remove, and what it needs of the body.
	ResponseHeaders(h map[string]string) (set map[string]string, remove []string, mode BodyMode)
	// Message rewrites one JSON-RPC message of the response (the JSON body, or one event's
	// data). It returns the message unchanged when there is nothing to do.
	Message(msg []byte) ([]byte, error)
}

// Server implements envoy.service.ext_proc.v3.ExternalProcessor.
type Server struct {
	extprocv3.UnimplementedExternalProcessorServer
	Guard Guard
	// OnError is told about every exchange that failed closed (for the log).
	OnError func(err error)
}

// Register adds the server to a gRPC server.
func (s *Server) Register(g *grpc.Server) { extprocv3.RegisterExternalProcessorServer(g, s) }

// stream is the state of one processing stream.
type stream struct {
	ex      Exchange
	mode    BodyMode
	buf     bytes.Buffer // JSON: the body so far; events: an incomplete event
	started bool         // response headers have gone to the client
}

// Process serves one HTTP request's processing stream.
func (s *Server) Process(srv grpc.BidiStreamingServer[extprocv3.ProcessingRequest, extprocv3.ProcessingResponse]) error {
	st := &stream{}
	for {
		req, err := srv.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		resp, err := s.handle(st, req)
		if err != nil {
			if s.OnError != nil {
				s.OnError(err)
			}
			if st.started {
				// The client has the headers already: end the stream rather than send an
				// unexamined body.
				return status.Error(codes.Internal, "response could not be processed (closed)")
			}
			resp = failClosed(err)
		}
		if err := srv.Send(resp); err != nil {
			return err
		}
	}
}

func (s *Server) handle(st *stream, req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
	switch r := req.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		var meta *structpb.Struct
		if md := req.GetMetadataContext().GetFilterMetadata(); md != nil {
			meta = md[MetadataNamespace]
		}
		st.ex = s.Guard.Begin(meta)
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{
			RequestHeaders: &extprocv3.HeadersResponse{}}}, nil

	case *extprocv3.ProcessingRequest_RequestTrailers:
		// Request trailers are dropped: the decision was made without them.
		var rm []string
		for _, h := range r.RequestTrailers.GetTrailers().GetHeaders() {
			rm = append(rm, h.GetKey())
		}
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{
			RequestTrailers: &extprocv3.TrailersResponse{HeaderMutation: &extprocv3.HeaderMutation{RemoveHeaders: rm}}}}, nil

	case *extprocv3.ProcessingRequest_ResponseHeaders:
		out := &extprocv3.HeadersResponse{}
		resp := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: out}}
		st.mode = BodyNone
		if st.ex != nil {
			h := map[string]string{}
			for _, hv := range r.ResponseHeaders.GetHeaders().GetHeaders() {
				v := hv.GetValue()
				if v == "" {
					v = string(hv.GetRawValue())
				}
				h[strings.ToLower(hv.GetKey())] = v
			}
			set, remove, mode := st.ex.ResponseHeaders(h)
			if r.ResponseHeaders.GetEndOfStream() {
				mode = BodyNone
			}
			st.mode = mode
			if mode != BodyNone {
				// The body will change length.
				remove = append(remove, "content-length")
			}
			if len(set) > 0 || len(remove) > 0 {
				out.Response = &extprocv3.CommonResponse{HeaderMutation: mutation(set, remove)}
			}
		}
		// Streamed, not buffered: Envoy's buffer limits stay small, and the processor holds a
		// JSON body itself (up to MaxBody) while events pass one by one.
		bodyMode := filterv3.ProcessingMode_NONE
		if st.mode != BodyNone {
			bodyMode = filterv3.ProcessingMode_STREAMED
		}
		resp.ModeOverride = &filterv3.ProcessingMode{ResponseBodyMode: bodyMode}
		// In streamed mode Envoy sends the headers on as soon as they are answered; a body
		// that cannot be examined after that ends the stream instead.
		st.started = true
		return resp, nil

	case *extprocv3.ProcessingRequest_ResponseBody:
		body, end := r.ResponseBody.GetBody(), r.ResponseBody.GetEndOfStream()
		var out []byte
		var err error
		switch st.mode {
		case BodyJSON:
			out, err = st.json(body, end)
		case BodyEvents:
			out, err = st.events(body, end)
		default:
			out = body
		}
		if err != nil {
			return nil, err
		}
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{
			ResponseBody: &extprocv3.BodyResponse{Response: &extprocv3.CommonResponse{
				BodyMutation: &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: out}},
			}}}}, nil

	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{
			ResponseTrailers: &extprocv3.TrailersResponse{}}}, nil

	default:
		return nil, fmt.Errorf("unexpected processing request %T", r)
	}
}

// json holds the body until its end, then rewrites it as one message.
func (st *stream) json(chunk []byte, end bool) ([]byte, error) {
	if st.buf.Len()+len(chunk) > MaxBody {
		return nil, fmt.Errorf("response body over %d bytes", MaxBody)
	}
	st.buf.Write(chunk)
	if !end {
		return []byte{}, nil
	}
	body := bytes.Clone(st.buf.Bytes())
	st.buf.Reset()
	if len(bytes.TrimSpace(body)) == 0 {
		return body, nil
	}
	return st.ex.Message(body)
}

// events passes complete server-sent events, each rewritten, and holds back an incomplete one.
func (st *stream) events(chunk []byte, end bool) ([]byte, error) {
	if st.buf.Len()+len(chunk) > MaxBody {
		return nil, fmt.Errorf("server-sent event over %d bytes", MaxBody)
	}
	st.buf.Write(chunk)
	var out bytes.Buffer
	for {
		data := st.buf.Bytes()
		n := eventEnd(data)
		if n < 0 {
			break
		}
		ev, err := st.rewriteEvent(data[:n])
		if err != nil {
			return nil, err
		}
		out.Write(ev)
		st.buf.Next(n)
	}
	if end && st.buf.Len() > 0 {
		ev, err := st.rewriteEvent(st.buf.Bytes())
		if err != nil {
			return nil, err
		}
		out.Write(ev)
		st.buf.Reset()
	}
	return out.Bytes(), nil
}

// eventEnd returns the length of the first complete event in data (through its blank line),
// or -1. Lines end in LF, CRLF or CR.
func eventEnd(data []byte) int {
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '\n':
			if i+1 < len(data) && data[i+1] == '\n' {
				return i + 2
			}
			if i+2 < len(data) && data[i+1] == '\r' && data[i+2] == '\n' {
				return i + 3
			}
		case '\r':
			if i+1 < len(data) && data[i+1] == '\r' {
				return i + 2
			}
			if i+3 < len(data) && data[i+1] == '\n' && data[i+2] == '\r' && data[i+3] == '\n' {
				return i + 4
			}
		}
	}
	return -1
}

// rewriteEvent rewrites the data of one event, keeping its other fields.
func (st *stream) rewriteEvent(ev []byte) ([]byte, error) {
	lines := splitLines(ev)
	var data [][]byte
	var other [][]byte
	for _, l := range lines {
		switch {
		case bytes.HasPrefix(l, []byte("data:")):
			data = append(data, bytes.TrimPrefix(bytes.TrimPrefix(l, []byte("data:")), []byte(" ")))
		case len(l) > 0:
			other = append(other, l)
		}
	}
	if len(data) == 0 {
		return ev, nil
	}
	msg := bytes.Join(data, []byte("\n"))
	rewritten, err := st.ex.Message(msg)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(rewritten, msg) {
		return ev, nil
	}
	var out bytes.Buffer
	for _, l := range other {
		out.Write(l)
		out.WriteByte('\n')
	}
	for _, l := range bytes.Split(rewritten, []byte("\n")) {
		out.WriteString("data: ")
		out.Write(l)
		out.WriteByte('\n')
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i])
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			i++
		}
		b = b[i+1:]
	}
	return out
}

func mutation(set map[string]string, remove []string) *extprocv3.HeaderMutation {
	m := &extprocv3.HeaderMutation{RemoveHeaders: remove}
	for k, v := range set {
		m.SetHeaders = append(m.SetHeaders, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: k, RawValue: []byte(v)},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		})
	}
	return m
}

// failClosed answers the client in place of a response that could not be examined.
func failClosed(err error) *extprocv3.ProcessingResponse {
	body := `{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"the edge could not examine the server's response, so it was not delivered"}}`
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{
		ImmediateResponse: &extprocv3.ImmediateResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode_BadGateway},
			Headers: mutation(map[string]string{"content-type": "application/json", "cache-control": "no-store"}, nil),
			Body:    []byte(body),
			Details: "gatehouse_response_processing_failed: " + err.Error(),
		}}}
}

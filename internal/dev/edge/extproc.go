package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-mcp/gatehouse/internal/proxy/extproc"
)

// Processor plays Envoy's ext_proc filter for one response, over the same gRPC API: it opens
// a processing stream, sends the request headers with the authz decision's dynamic metadata,
// the response headers, and — when the processor asks for the body (streamed mode) — the
// body chunk by chunk, applying every mutation. Tests of the response side use it too.
type Processor struct {
	Client extprocv3.ExternalProcessorClient
}

// errImmediate carries a processor's immediate response.
type errImmediate struct{ r *extprocv3.ImmediateResponse }

func (e *errImmediate) Error() string { return "ext_proc answered in place of the response" }

// Process runs resp through the processor. On return resp's headers are mutated and its body
// streams through the processor; an immediate response replaces resp entirely. An error means
// the response must not be delivered (fail closed).
func (p *Processor) Process(ctx context.Context, meta *structpb.Struct, reqHeader http.Header, resp *http.Response) error {
	stream, err := p.Client.Process(ctx)
	if err != nil {
		return fmt.Errorf("ext_proc: %w", err)
	}
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
	if meta != nil {
		md.FilterMetadata[extproc.MetadataNamespace] = meta
	}
	if _, err := exchange(stream, &extprocv3.ProcessingRequest{
		Request:         &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: headerMap(reqHeader)}},
		MetadataContext: md,
	}); err != nil {
		return err
	}
	hr, err := exchange(stream, &extprocv3.ProcessingRequest{
		Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{
			Headers: headerMap(responseHeaders(resp)), EndOfStream: resp.ContentLength == 0}},
		MetadataContext: md,
	})
	if err != nil {
		var imm *errImmediate
		if errors.As(err, &imm) {
			replace(resp, imm.r)
			_ = stream.CloseSend()
			return nil
		}
		return err
	}
	applyMutation(resp.Header, hr.GetResponseHeaders().GetResponse().GetHeaderMutation())
	if hr.GetModeOverride().GetResponseBodyMode() != filterv3.ProcessingMode_STREAMED {
		_ = stream.CloseSend()
		return nil
	}
	resp.ContentLength = -1
	resp.Header.Del("Content-Length")
	upstream := resp.Body
	pr, pw := io.Pipe()
	resp.Body = pr
	go func() {
		defer upstream.Close()
		defer func() { _ = stream.CloseSend() }()
		buf := make([]byte, 32<<10)
		for {
			n, rerr := upstream.Read(buf)
			end := errors.Is(rerr, io.EOF)
			if rerr != nil && !end {
				pw.CloseWithError(rerr)
				return
			}
			if n == 0 && !end {
				continue
			}
			br, err := exchange(stream, &extprocv3.ProcessingRequest{
				Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{
					Body: append([]byte(nil), buf[:n]...), EndOfStream: end}},
				MetadataContext: md,
			})
			if err != nil {
				// The client has the headers: end the stream rather than pass an unexamined body.
				pw.CloseWithError(err)
				return
			}
			out := buf[:n]
			if m := br.GetResponseBody().GetResponse().GetBodyMutation(); m != nil {
				out = m.GetBody()
			}
			if len(out) > 0 {
				if _, err := pw.Write(out); err != nil {
					return
				}
			}
			if end {
				pw.Close()
				return
			}
		}
	}()
	return nil
}

// exchange sends one message and returns the processor's answer to it.
func exchange(stream extprocv3.ExternalProcessor_ProcessClient, req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
	if err := stream.Send(req); err != nil {
		return nil, fmt.Errorf("ext_proc send: %w", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, fmt.Errorf("ext_proc: %w", err)
	}
	if imm := resp.GetImmediateResponse(); imm != nil {
		return nil, &errImmediate{imm}
	}
	return resp, nil
}

func responseHeaders(resp *http.Response) http.Header {
	h := resp.Header.Clone()
	h.Set(":status", strconv.Itoa(resp.StatusCode))
	if resp.ContentLength >= 0 {
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	return h
}

func headerMap(h http.Header) *corev3.HeaderMap {
	m := &corev3.HeaderMap{}
	for k, vs := range h {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: strings.ToLower(k), RawValue: []byte(strings.Join(vs, ","))})
	}
	return m
}

func applyMutation(h http.Header, m *extprocv3.HeaderMutation) {
	for _, hv := range m.GetSetHeaders() {
		v := string(hv.GetHeader().GetRawValue())
		if v == "" {
			v = hv.GetHeader().GetValue()
		}
		if hv.GetAppendAction() == corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD {
			h.Add(hv.GetHeader().GetKey(), v)
		} else {
			h.Set(hv.GetHeader().GetKey(), v)
		}
	}
	for _, k := range m.GetRemoveHeaders() {
		h.Del(k)
	}
}

// replace turns resp into the processor's immediate response.
func replace(resp *http.Response, r *extprocv3.ImmediateResponse) {
	resp.Body.Close()
	resp.StatusCode = int(r.GetStatus().GetCode())
	resp.Status = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
	resp.Header = http.Header{}
	applyMutation(resp.Header, r.GetHeaders())
	resp.Body = io.NopCloser(strings.NewReader(string(r.GetBody())))
	resp.ContentLength = int64(len(r.GetBody()))
	resp.Header.Set("Content-Length", strconv.Itoa(len(r.GetBody())))
}

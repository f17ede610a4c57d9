package restbridge

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Media types of the bridge's answers.
const (
	contentJSON    = "application/json"
	contentProblem = "application/problem+json"
)

// response is one complete answer, built before it is written so that the idempotency
// store can keep it and replay it byte for byte.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) size() int {
	n := len(r.body) + 64
	for k, vs := range r.header {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	return n
}

func (r *response) write(w http.ResponseWriter) {
	for k, vs := range r.header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(r.body)))
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body)
}

func jsonResponse(status int, v any) *response {
	b, err := json.Marshal(v)
	if err != nil {
		return problemResponse(&problem{status: http.StatusBadGateway, detail: "the result could not be encoded as JSON: " + err.Error()}, "", "", "")
	}
	h := http.Header{}
	h.Set("Content-Type", contentJSON)
	h.Set("Cache-Control", "no-store")
	return &response{status: status, header: h, body: append(b, '\n')}
}

// problem is an RFC 9457 problem detail the bridge answers with. Every error the bridge
// gives is one, with the same members as the edge's REST refusals (docs/errors.md):
// type, title, status, detail, decision_id, server, tool, plus the extensions below.
type problem struct {
	status int
	detail string
	// retryAfter, in seconds, for 502 and 503: the adapter may be back shortly.
	retryAfter int
	// allow is the Allow header of a 405.
	allow string
	// invalidParams names each argument the tool refused (RFC 9457 section 3's example
	// extension): [{"name": "device_ids", "reason": "missing required argument \"device_ids\""}].
	invalidParams []invalidParam
}

type invalidParam struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

func (p *problem) Error() string { return p.detail }

// problemResponse renders p with the request's decision id and names.
func problemResponse(p *problem, decisionID, server, tool string) *response {
	body := map[string]any{
		"type":   "about:blank",
		"title":  http.StatusText(p.status),
		"status": p.status,
		"detail": p.detail,
	}
	if decisionID != "" {
		body["decision_id"] = decisionID
	}
	if server != "" {
		body["server"] = server
	}
	if tool != "" {
		body["tool"] = tool
	}
	if len(p.invalidParams) > 0 {
		body["invalid_params"] = p.invalidParams
	}
	b, _ := json.Marshal(body)
	h := http.Header{}
	h.Set("Content-Type", contentProblem)
	h.Set("Cache-Control", "no-store")
	if p.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.retryAfter))
	}
	if p.allow != "" {
		h.Set("Allow", p.allow)
	}
	return &response{status: p.status, header: h, body: append(b, '\n')}
}

// argumentsPrefix starts every argument refusal of the adapter kit (adapters/kit/args.go):
// "invalid arguments for <tool>: missing required argument "device_ids"; unknown argument "x"".
// The kit answers those as isError results (MCP 2025-11-25: input validation failures are
// tool execution errors); the bridge turns them into 400s that name each field.
const argumentsPrefix = "invalid arguments for "

// argumentProblem reports whether text is the kit's refusal of tool's arguments, and if so
// the 400 naming every argument it mentions.
func argumentProblem(tool, text string) (*problem, bool) {
	rest, ok := strings.CutPrefix(text, argumentsPrefix+tool+": ")
	if !ok {
		return nil, false
	}
	p := &problem{status: http.StatusBadRequest, detail: text}
	for _, part := range strings.Split(rest, "; ") {
		p.invalidParams = append(p.invalidParams, invalidParam{Name: argumentName(part), Reason: part})
	}
	return p, true
}

// argumentName finds the field a kit sentence is about: the first quoted name after
// `argument ` ("missing required argument "x"", "argument "filter.site" must be …"); a
// sentence about the arguments as a whole names "arguments".
func argumentName(sentence string) string {
	_, after, ok := strings.Cut(sentence, `argument "`)
	if !ok {
		return "arguments"
	}
	name, _, ok := strings.Cut(after, `"`)
	if !ok || name == "" {
		return "arguments"
	}
	return name
}

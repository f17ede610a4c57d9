package authz

import (
	"context"
	"strconv"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/policy"
)

// policyStage builds the OPA input, evaluates the policy revision in service and turns its
// answer into a verdict. Every failure here (no policy, an input that cannot be built, an
// evaluation error, a timeout) is a denial.
func (s *Server) policyStage(ctx context.Context, req *authv3.CheckRequest, r *request) *Verdict {
	jsonrpc := s.cfg.Authz.DenyMode == config.DenyJSONRPC
	rev := s.policy.Current()
	if rev == nil {
		return policyDenial(r, []string{"no authorization policy is loaded (fail closed)"}, true, jsonrpc)
	}
	decided := func(v *Verdict) *Verdict { v.Revision = rev.ID; return v }
	if r.msg.Method == "tools/call" && s.drift.has(r.server, r.msg.Name) {
		return decided(policyDenial(r, []string{driftRefusal(r.server, r.msg.Name)}, false, jsonrpc))
	}
	ectx, cancel := context.WithTimeout(ctx, s.cfg.Policy.EvalTimeout)
	defer cancel()
	var tool map[string]any
	if r.msg.Method == "tools/call" {
		if t, ok := rev.Catalog.Lookup(r.server, r.msg.Name); ok {
			tool = t.Input()
		}
	}
	// A question this revision has already answered for everyone who asks it (policy/memo.go).
	key, memoizable := memoKey(r, tool)
	var d *policy.Decision
	remembered := false
	if memoizable {
		d, remembered = rev.Remembered(key)
	}
	if remembered {
		s.metrics.memo[policy.MemoHit].Inc()
	} else {
		// A remembered decision skips building the input, and so this fail-closed branch: its
		// failures come from opa-envoy-plugin parsing the path, which the route stage has
		// already accepted as canonical.
		input, err := s.buildInput(req, r, tool)
		if err != nil {
			s.log.Error().Err(err).Str("gatehouse.decision_id", r.decisionID).Msg("cannot build policy input; denying")
			return decided(policyDenial(r, []string{"the request could not be prepared for policy evaluation (fail closed)"}, true, jsonrpc))
		}
		outcome := policy.MemoEvaluated
		if memoizable {
			d, outcome, err = rev.EvalAndRemember(ectx, key, memoRefs, input, r.decisionID)
		} else {
			d, err = rev.Eval(ectx, input, r.decisionID)
		}
		s.metrics.memo[outcome].Inc()
		if err != nil && ectx.Err() != nil {
			s.evalOverloaded()
			return decided(overloaded(r))
		}
		if err != nil {
			s.metrics.policyErrors.Inc()
			s.log.Error().Err(err).Str("gatehouse.decision_id", r.decisionID).Str("gatehouse.policy_revision", rev.ID).
				Msg("policy evaluation failed; denying")
			return decided(policyDenial(r, []string{"the authorization policy could not be evaluated (fail closed)"}, true, jsonrpc))
		}
	}
	if d.Allow {
		hs := s.upstreamHeaders(r, d)
		if r.via == viaREST && r.msg.Method == "tools/list" {
			names, err := s.restTools(ectx, rev, r)
			if err != nil && ectx.Err() != nil {
				s.evalOverloaded()
				return decided(overloaded(r))
			}
			if err != nil {
				s.metrics.policyErrors.Inc()
				s.log.Error().Err(err).Str("gatehouse.decision_id", r.decisionID).Msg("REST tool listing failed; denying")
				return decided(policyDenial(r, []string{"the tool listing could not be evaluated (fail closed)"}, true, jsonrpc))
			}
			hs[contract.HeaderTools] = strings.Join(names, ",")
		}
		v := allowed(StagePolicy, OutcomeAllow, hs)
		v.Metadata = s.metadata(r)
		return decided(v)
	}
	reasons := d.Reasons
	if len(reasons) == 0 {
		reasons = []string{"denied by policy"}
	}
	if s.cfg.Policy.DryRun {
		// security 27: dry-run allows and logs the would-be denial.
		v := allowed(StagePolicy, OutcomeDryRunDeny, s.upstreamHeaders(r, d))
		v.Metadata = s.metadata(r)
		v.Reasons = reasons
		return decided(v)
	}
	return decided(policyDenial(r, reasons, false, jsonrpc))
}

// Headers the edge sets on an allowed request; they overwrite any client-sent value.
const (
	HeaderSubject    = contract.HeaderSubject
	HeaderDecisionID = contract.HeaderDecisionID
)

// upstreamHeaders are the headers an allowed request carries to the adapter (docs/architecture.md):
// the headers the policy asked for, then the subject, its email and the decision id, which
// no policy can override.
func (s *Server) upstreamHeaders(r *request, d *policy.Decision) map[string]string {
	set := map[string]string{}
	if hvs, err := d.Result.GetResponseEnvoyHeaderValueOptions(); err == nil {
		for _, hv := range hvs {
			k := strings.ToLower(hv.GetHeader().GetKey())
			if !settable(k) {
				s.log.Warn().Str("gatehouse.decision_id", r.decisionID).Str("gatehouse.header", k).
					Msg("policy header not settable; dropped")
				continue
			}
			set[k] = hv.GetHeader().GetValue()
		}
	} else {
		s.log.Warn().Err(err).Str("gatehouse.decision_id", r.decisionID).Msg("ignoring malformed headers from policy")
	}
	set[HeaderSubject] = r.identity.Subject
	if r.identity.Email != "" {
		set[contract.HeaderEmail] = r.identity.Email
	}
	set[HeaderDecisionID] = r.decisionID
	if r.session != "" {
		set[contract.HeaderSessionID] = r.session
	}
	// Nothing outlives the token that allowed it: a stream (SSE, GET) ends when the token
	// expires. Envoy's router reads this header (set after its own sanitizing of client
	// x-envoy-* headers); the dev edge does the same.
	if exp := r.identity.Expiry; !exp.IsZero() {
		ms := max(exp.Sub(s.now()).Milliseconds(), 1)
		set[contract.HeaderUpstreamTimeout] = strconv.FormatInt(ms, 10)
	}
	return set
}

// settable refuses policy headers that would break the request, impersonate the client or
// steer the proxy: pseudo-headers, credentials, framing and hop-by-hop headers, the MCP
// transport's own headers, and Envoy's internal ones.
func settable(k string) bool {
	if k == "" || k[0] == ':' || strings.HasPrefix(k, "mcp-") || strings.HasPrefix(k, "x-envoy-") {
		return false
	}
	switch k {
	case "authorization", "proxy-authorization", "cookie", "host", "content-length", "content-type",
		"transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade":
		return false
	}
	return true
}

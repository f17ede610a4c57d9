package vaulttest

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-mcp/gatehouse/internal/dev/devca"
)

// The PKI secrets engine's issue endpoint (api-docs secret/pki "Generate certificate and key"):
//
//	POST /v1/pki/issue/{role}   {"common_name","alt_names","uri_sans","ip_sans","ttl"}
//	  -> data {certificate, issuing_ca, ca_chain, private_key, private_key_type, serial_number, expiration}
//	  400 "unknown role: {role}" for a role not added with AddPKIRole
//
// Certificates are real, signed by a CA the double makes; role constraints (allowed domains,
// max TTL) are not evaluated. Tokens holding only "default" are refused, as for KV.

type pki struct {
	once  sync.Once
	ca    *devca.CA
	err   error
	roles map[string]bool
}

var pkiByServer sync.Map // *Server -> *pki (keeps the Server struct unchanged)

func (s *Server) pki() *pki {
	p, _ := pkiByServer.LoadOrStore(s, &pki{roles: map[string]bool{}})
	return p.(*pki)
}

// AddPKIRole lets pki/issue/{role} issue certificates.
func (s *Server) AddPKIRole(role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pki().roles[role] = true
}

// PKICA is the PEM of the CA the PKI engine signs with.
func (s *Server) PKICA() []byte {
	p := s.pki()
	p.init()
	if p.ca == nil {
		return nil
	}
	return p.ca.PEM
}

func (p *pki) init() {
	p.once.Do(func() { p.ca, p.err = devca.New("vaulttest PKI CA") })
}

// issue answers pki/issue/{role}; s.mu is held.
func (s *Server) issue(role string, t *token, body []byte) reply {
	if !t.mayUseKV() {
		return errorReply(http.StatusForbidden, "permission denied")
	}
	p := s.pki()
	if !p.roles[role] {
		return errorReply(http.StatusBadRequest, "unknown role: "+role)
	}
	var req struct {
		CommonName string `json:"common_name"`
		AltNames   string `json:"alt_names"`
		URISANs    string `json:"uri_sans"`
		IPSANs     string `json:"ip_sans"`
		TTL        any    `json:"ttl"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return errorReply(http.StatusBadRequest, "error parsing JSON")
	}
	if req.CommonName == "" {
		return errorReply(http.StatusBadRequest, "the common_name field is required, or must be provided in a CSR with \"use_csr_common_name\" set to true, unless \"require_cn\" is set to false")
	}
	ttl := 72 * time.Hour // the engine's default max lease
	if req.TTL != nil {
		d, err := durationSecond(req.TTL)
		if err != nil {
			return errorReply(http.StatusBadRequest, err.Error())
		}
		ttl = d
	}
	p.init()
	if p.err != nil {
		return errorReply(http.StatusInternalServerError, p.err.Error())
	}
	names := []string{req.CommonName}
	for _, list := range []string{req.AltNames, req.URISANs, req.IPSANs} {
		for _, n := range strings.Split(list, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	}
	pair, err := p.ca.Issue(ttl, names...)
	if err != nil {
		return errorReply(http.StatusInternalServerError, err.Error())
	}
	ca := strings.TrimSpace(string(p.ca.PEM))
	block, _ := pem.Decode(pair.KeyPEM)
	return reply{status: http.StatusOK, body: map[string]any{
		"request_id": newUUID(), "lease_id": "", "renewable": false, "lease_duration": 0,
		"data": map[string]any{
			"certificate":      strings.TrimSpace(string(pair.CertPEM)),
			"issuing_ca":       ca,
			"ca_chain":         []string{ca},
			"private_key":      strings.TrimSpace(string(pem.EncodeToMemory(block))),
			"private_key_type": "ec",
			"serial_number":    pair.Leaf.SerialNumber.Text(16),
			"expiration":       pair.Leaf.NotAfter.Unix(),
		},
	}}
}

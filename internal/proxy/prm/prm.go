// Package prm serves OAuth 2.0 Protected Resource Metadata (RFC 9728) for the edge and for
// every MCP server behind it, which is how an MCP client finds the authorization server.
package prm

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
)

// Document is the metadata of one protected resource.
type Document struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

// Site is what the metadata is made from: the edge's public URL, the issuer tokens come
// from, and the servers behind the edge.
type Site struct {
	PublicURL string // without a trailing slash
	Issuer    string
	Servers   []Server
}

// Server is one MCP server behind the edge.
type Server struct {
	Name        string
	Description string
	Scopes      []string
}

// ForServer is the metadata of one MCP server: its resource is exactly the server's URL.
func (site Site) ForServer(s Server) Document {
	name := s.Description
	if name == "" {
		name = "Gatehouse MCP server " + s.Name
	}
	return Document{
		Resource:               site.PublicURL + contract.MCPPath(s.Name),
		AuthorizationServers:   []string{site.Issuer},
		BearerMethodsSupported: []string{"header"},
		ScopesSupported:        s.Scopes,
		ResourceName:           name,
	}
}

// ForRoot is the metadata of the edge itself, for clients that look at the root first.
func (site Site) ForRoot() Document {
	var scopes []string
	for _, s := range site.Servers {
		for _, sc := range s.Scopes {
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	return Document{
		Resource:               site.PublicURL,
		AuthorizationServers:   []string{site.Issuer},
		BearerMethodsSupported: []string{"header"},
		ScopesSupported:        scopes,
		ResourceName:           "Gatehouse MCP edge",
	}
}

// Handler serves /.well-known/oauth-protected-resource and
// /.well-known/oauth-protected-resource/mcp/<name>; any other path under it is 404.
func Handler(site Site) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var doc Document
		switch rest := strings.TrimPrefix(r.URL.Path, contract.WellKnownPRM); {
		case rest == "":
			doc = site.ForRoot()
		case strings.HasPrefix(rest, contract.MCPPrefix):
			name := strings.TrimPrefix(rest, contract.MCPPrefix)
			i := slices.IndexFunc(site.Servers, func(s Server) bool { return s.Name == name })
			if i < 0 {
				http.NotFound(w, r)
				return
			}
			doc = site.ForServer(site.Servers[i])
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		// The document is public and carries no credentials; browser-based MCP clients
		// must be able to read it cross-origin.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_ = json.NewEncoder(w).Encode(doc)
	})
}

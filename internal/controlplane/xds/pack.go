// Package xds translates the edge model (control-plane/model) into Envoy v3 resources: one
// listener (listener.go) whose HTTP connection manager runs cors → ext_authz → router
// (filters.go), one route configuration (routes.go), and the clusters (clusters.go); with
// edge.tls/edge.mtls, the certificates as SDS secrets read from files (secrets.go), a TLS
// listener, an http→https redirect listener, HSTS, and mTLS clusters. Every
// inner config is validated before it is packed, and every snapshot is checked for
// consistency (snapshot.go).
package xds

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// validatable is a generated Envoy message with protoc-gen-validate rules.
type validatable interface {
	proto.Message
	ValidateAll() error
}

// pack validates m against Envoy's own proto rules and wraps it in an Any. Envoy would
// reject an invalid config at run time; this rejects it before it is ever served.
func pack(m validatable) (*anypb.Any, error) {
	if err := m.ValidateAll(); err != nil {
		return nil, fmt.Errorf("%s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return anypb.New(m)
}

// validate checks a top-level resource.
func validate(m validatable) error {
	if err := m.ValidateAll(); err != nil {
		return fmt.Errorf("%s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return nil
}

func dur(d time.Duration) *durationpb.Duration { return durationpb.New(d) }

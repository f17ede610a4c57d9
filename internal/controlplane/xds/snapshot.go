package xds

import (
	"fmt"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/model"
)

// Resources are the Envoy resources of one edge, by type.
type Resources map[resource.Type][]types.Resource

// Translate turns the edge model into validated Envoy resources.
func Translate(e *model.Edge) (Resources, error) {
	l, err := Listener(e)
	if err != nil {
		return nil, fmt.Errorf("listener: %w", err)
	}
	r, err := Routes(e)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	redirect, err := RedirectListener(e)
	if err != nil {
		return nil, fmt.Errorf("redirect listener: %w", err)
	}
	cs, err := Clusters(e)
	if err != nil {
		return nil, fmt.Errorf("clusters: %w", err)
	}
	res := Resources{
		resource.ListenerType: {l},
		resource.RouteType:    {r},
	}
	if redirect != nil {
		res[resource.ListenerType] = append(res[resource.ListenerType], redirect)
	}
	for _, c := range cs {
		res[resource.ClusterType] = append(res[resource.ClusterType], c)
	}
	return res, nil
}

// Snapshot wraps resources in a snapshot with version and checks it is consistent: every
// route configuration a listener names is present, and so on.
func Snapshot(version string, res Resources) (*cache.Snapshot, error) {
	s, err := cache.NewSnapshot(version, res)
	if err != nil {
		return nil, err
	}
	if err := s.Consistent(); err != nil {
		return nil, fmt.Errorf("inconsistent snapshot: %w", err)
	}
	return s, nil
}

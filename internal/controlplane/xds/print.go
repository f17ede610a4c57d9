package xds

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
)

// YAML renders resources as a reviewer reads them: the exact messages Envoy receives over
// ADS, as protojson with proto field names, by type, in a stable order.
func YAML(res Resources) ([]byte, error) {
	doc := map[string]any{}
	for _, t := range []struct {
		key string
		typ resource.Type
	}{{"listeners", resource.ListenerType}, {"routes", resource.RouteType}, {"clusters", resource.ClusterType}} {
		var list []any
		for _, r := range res[t.typ] {
			v, err := toPlain(r)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.key, err)
			}
			list = append(list, v)
		}
		doc[t.key] = list
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

func toPlain(r types.Resource) (any, error) {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(r)
	if err != nil {
		return nil, err
	}
	// Numbers stay as written (1048576, not 1.048576e+06).
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return numbers(v), nil
}

// numbers turns json.Number into int64 (or float64) so YAML prints them as numbers.
func numbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
	}
	return v
}

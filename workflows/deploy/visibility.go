package deploy

import (
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
)

func listRequest(query string, size int, token []byte) *workflowservice.ListWorkflowExecutionsRequest {
	return &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: int32(min(size, 1000)), NextPageToken: token}
}

// searchAttrs decodes keyword search attributes (others are skipped).
func searchAttrs(sa *commonpb.SearchAttributes) map[string]string {
	out := map[string]string{}
	dc := converter.GetDefaultDataConverter()
	for k, p := range sa.GetIndexedFields() {
		var s string
		if dc.FromPayload(p, &s) == nil {
			out[k] = s
		}
	}
	return out
}

// memoFields decodes a memo's JSON values.
func memoFields(m *commonpb.Memo) map[string]any {
	out := map[string]any{}
	dc := converter.GetDefaultDataConverter()
	for k, p := range m.GetFields() {
		var v any
		if dc.FromPayload(p, &v) == nil {
			out[k] = v
		}
	}
	return out
}

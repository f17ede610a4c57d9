package deploy

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Search attributes of deployment workflows, so that Client.List can find them (Temporal
// visibility). They must be registered in the namespace: EnsureSearchAttributes does it (the
// worker calls it at start), `temporal operator search-attribute create` does it by hand,
// and `temporal server start-dev --search-attribute Name=Keyword` does it for a dev server.
var (
	// SearchAttrState is the deployment's State.
	SearchAttrState = temporal.NewSearchAttributeKeyKeyword("GatehouseDeployState")
	// SearchAttrRequester is the requester's subject.
	SearchAttrRequester = temporal.NewSearchAttributeKeyKeyword("GatehouseRequester")
	// SearchAttrApproverRole is the role approvers need ("" when approval is not required
	// or any approver will do).
	SearchAttrApproverRole = temporal.NewSearchAttributeKeyKeyword("GatehouseApproverRole")
	// SearchAttrChange is the change request's number, once opened.
	SearchAttrChange = temporal.NewSearchAttributeKeyKeyword("GatehouseChangeNumber")
	// SearchAttrRequestHash is the Request.Hash.
	SearchAttrRequestHash = temporal.NewSearchAttributeKeyKeyword("GatehouseRequestHash")
)

// SearchAttributes lists the search attributes with their types, as
// `temporal server start-dev --search-attribute` takes them (Name=Keyword).
func SearchAttributes() []string {
	var out []string
	for _, k := range []temporal.SearchAttributeKeyKeyword{SearchAttrState, SearchAttrRequester, SearchAttrApproverRole,
		SearchAttrChange, SearchAttrRequestHash} {
		out = append(out, k.GetName()+"=Keyword")
	}
	return out
}

// EnsureSearchAttributes registers the deployment search attributes in namespace when they
// are missing (it needs the operator API; a Temporal Cloud namespace registers them in its
// console instead). Registering takes effect within seconds on a cluster.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("listing search attributes of namespace %s: %w", namespace, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, k := range []temporal.SearchAttributeKeyKeyword{SearchAttrState, SearchAttrRequester, SearchAttrApproverRole,
		SearchAttrChange, SearchAttrRequestHash} {
		if _, ok := have.GetCustomAttributes()[k.GetName()]; !ok {
			missing[k.GetName()] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing}); err != nil {
		return fmt.Errorf("registering search attributes in namespace %s: %w", namespace, err)
	}
	return nil
}

// Package deploy is Gatehouse's durable template deployment: a Temporal workflow that
// validates a deployment (template version, devices, rendered preview, change window), opens
// a ServiceNow change with the devices as CIs and the preview in its plan, waits for the
// approvals the policy asked for, moves the change to Implement, deploys the template through
// Catalyst Center, follows the deployment task with heartbeats, checks the devices' health,
// and closes the change successful or unsuccessful (rolling back first when the request names
// a rollback). A rejection, an expired approval or a cancellation cancels the change.
//
// The pieces:
//
//   - Request, Approval, Decision, Cancellation: what callers give; Request.Hash binds an
//     approval to the exact request.
//   - Workflow (registered as WorkflowName) with the "status" query, the approve, reject and
//     cancel updates (and signals of the same names), and Status as its state and result.
//   - Activities over two seams, Controller and ChangeSystem, implemented by CatalystCenter
//     and ServiceNow over the adapters' clients; Register puts both on a worker.
//   - Client: Start, StartWithKey, Get, List, Approve, Reject, Cancel, Result — the API of
//     the deployments adapter; the workflow id is the MCP task id.
//
// workflows/README.md describes the contracts, the idempotency reached and not reached, the
// timeouts and the logs.
package deploy

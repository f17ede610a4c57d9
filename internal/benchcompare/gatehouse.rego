# Gatehouse's decision document, as Gatehouse queries it (allow, reasons, headers), for the
# benchmark's envoy.authz to evaluate with the input it built.
package envoy.gatehouse

import rego.v1

decision := {
	"allow": data.gatehouse.authz.allow,
	"reasons": data.gatehouse.authz.reasons,
	"headers": data.gatehouse.authz.headers,
}

# The decisions of examples/authz/rules.toml, as a Rego policy (the rego_policy example).
# The input document is described in the manual's authorization chapter.
package demo.authz

import rego.v1

default allow := false

path := input.request.path

scopes := {s | some s in input.principal.scopes}

# The path is the request's own, not normalised: a `.` or `..` segment, plain or
# percent-encoded, is refused, as the rule table refuses it.
dot_segments if regex.match(`(^|/)(\.|%2[eE])(\.|%2[eE])?(/|$)`, path)

allow if path == "/healthz"

allow if {
	input.request.method == "POST"
	path == "/orders/export"
	"orders:admin" in scopes
}

allow if {
	input.request.method == "GET"
	startswith(path, "/orders/")
	not dot_segments
	count(scopes & {"orders:read", "orders:admin"}) > 0
}

allow if {
	startswith(path, "/admin/")
	not dot_segments
	"admin" in input.principal.claims.realm_access.roles
}

allow if {
	input.request.grpc.service == "demo.Inventory"
	input.request.grpc.method == "Reserve"
	"inventory:reserve" in scopes
	input.principal.claims.tenant == "acme"
}

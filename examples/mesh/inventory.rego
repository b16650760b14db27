# inventory's policy (the mesh example with the `rego` feature; without it, inventory.toml
# decides the same). The input document is described in the manual's authorization chapter.
package mesh.inventory

import rego.v1

default allow := false

gateway := "spiffe://demo.test/ns/edge/sa/gateway"

orders := "spiffe://demo.test/ns/shop/sa/orders"

# Reserve: called by orders, on behalf of a user who came in through the gateway, with the
# scope to write orders.
allow if {
	input.request.grpc.service == "demo.Inventory"
	input.request.grpc.method == "Reserve"
	input.caller == orders
	input.chain == [gateway, orders]
	"orders:write" in input.principal.scopes
}

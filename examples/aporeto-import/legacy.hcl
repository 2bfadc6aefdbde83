# A microseg configuration written before protocols/ports were removed from external_network.
# `microseg migrate examples/aporeto-import/legacy.hcl` rewrites them to service_ports and keeps
# everything else, comments included, as it is.

namespace "/acme" {}

namespace "/acme/prod" {
  description = "Production workloads"
}

external_network "dns" {
  namespace = "/acme/prod"
  entries   = ["198.19.53.0/24"]
  protocols = ["udp", "tcp"] # resolvers answer on both
  ports     = ["53"]
  tags      = ["kind=dns"]
}

external_network "internet" {
  namespace = "/acme/prod"
  # Everything except our own benchmarking range.
  entries = ["0.0.0.0/0", "!198.18.0.0/15"]
  protocols = ["6"]
  ports = [
    "80",
    "443", // https
  ]
  tags = ["kind=internet"]
}

external_network "vpn" {
  namespace = "/acme/prod"
  entries   = ["198.19.200.1/32", "198.19.200.2/32"]
  protocols = ["gre", "udp"]
  ports     = ["500", "4500"]
}

# Written in 2019-2020: service_ports next to the old attributes' defaults. service_ports wins
# (one port), as on Aporeto enforcers from 3.12; the rewrite drops protocols and warns.
external_network "payments-api" {
  namespace     = "/acme/prod"
  entries       = ["198.51.100.7/32"]
  service_ports = ["tcp/443"]
  protocols     = ["tcp"]
}

network_policy "dns-out" {
  namespace         = "/acme/prod"
  subject           = [["$identity=processingunit"]]
  object            = [["kind=dns"]]
  # A policy's ports are service ports already: not touched.
  ports             = ["udp/53", "tcp/53"]
  apply_policy_mode = "outgoing"
}

# Peers that are not workloads.

external_network "dns" {
  namespace     = "/acme/prod"
  entries       = ["198.19.53.0/24"]
  service_ports = ["udp/53", "tcp/53"]
  tags          = ["kind=dns"]
}

external_network "internet" {
  namespace = "/acme/prod"
  # Everything except our own benchmarking range: workloads reach each other only through the
  # policies below, never through the "internet" rule.
  entries       = ["0.0.0.0/0", "!198.18.0.0/15"]
  service_ports = ["tcp/443", "tcp/80"]
  tags          = ["kind=internet"]
}

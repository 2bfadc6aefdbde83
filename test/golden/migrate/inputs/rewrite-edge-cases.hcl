// Legacy attributes in every shape the rewrite has to cope with.

variable "extra_ports" {
  type    = list(string)
  default = []
}

external_network "one-line" { protocols = ["udp"] }

external_network "merge" {
  entries       = ["198.51.100.0/24"]
  service_ports = ["tcp/443"] # already migrated by hand
  /* half-way through a manual migration */
  protocols     = ["tcp", 17]
  ports         = ["443", "53"]
}

external_network "ranges" {
  entries   = ["198.51.101.0/24", "!198.51.101.128/25"]
  protocols = ["TCP"]
  ports     = ["1000-2000", "3000:3000"]
  tags      = ["kind=range"]

  lifecycle {
    prevent_destroy = true
  }
}

# Policy tests: `microseg test` traces each connection through the compiled rules and fails when
# the verdict differs. They pin what the policies above are for, so a later edit that breaks one
# of these intentions fails in CI instead of in production.

expect "web-calls-api" {
  from    = "web"
  to      = "api"
  port    = "tcp/8080"
  verdict = "allow"
}

expect "web-stays-in-api-range" {
  # web-to-api allows tcp/8000:8100 only; everything else falls to the namespace default.
  from    = "web"
  to      = "api"
  port    = "tcp/8101"
  verdict = "reject"
}

expect "api-reaches-db" {
  from    = "api"
  to      = "db"
  port    = "tcp/5432"
  verdict = "allow"
}

expect "web-never-reaches-db" {
  # backend-to-db matches web too, but no-web-to-db rejects it: reject beats allow.
  from    = "web"
  to      = "db"
  port    = "tcp/5432"
  verdict = "reject"
}

expect "web-pings-db" {
  from    = "web"
  to      = "db"
  port    = "icmp/8/0"
  verdict = "allow"
}

expect "no-unsolicited-echo-reply" {
  # Only echo requests open a connection; replies travel as established traffic.
  from    = "api"
  to      = "web"
  port    = "icmp/0/0"
  verdict = "reject"
}

expect "api-does-not-call-web" {
  from    = "api"
  to      = "web"
  port    = "tcp/8080"
  verdict = "reject"
}

expect "ssh-failsafe" {
  # The enforcer profile keeps tcp/22 open whatever the policies say.
  from    = "api"
  to      = "db"
  port    = "tcp/22"
  verdict = "allow"
}

expect "web-reaches-internet-https" {
  from    = "web"
  to      = "internet"
  port    = "tcp/443"
  verdict = "allow"
}

expect "web-no-internet-http" {
  # The internet network serves tcp/80 too, but the policy only allows tcp/443.
  from    = "web"
  to      = "internet"
  port    = "tcp/80"
  verdict = "reject"
}

expect "api-no-internet" {
  from    = "api"
  to      = "internet"
  port    = "tcp/443"
  verdict = "reject"
}

expect "db-resolves-names" {
  from    = "db"
  to      = "dns"
  port    = "udp/53"
  verdict = "allow"
}

expect "dns-ports-only" {
  # dns-out allows any port, intersected with the network's service_ports (udp/53, tcp/53).
  from    = "db"
  to      = "dns"
  port    = "udp/123"
  verdict = "reject"
}

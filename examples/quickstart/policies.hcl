# Who may talk to whom. Subjects and objects are tag expressions: [[a, b], [c]] = (a AND b) OR c.

network_policy "web-to-api" {
  namespace   = "/acme/prod"
  description = "The web tier calls the API on its port range."
  subject     = [["app=web", local.env_tag]]
  object      = [["app=api", local.env_tag]]
  ports       = ["tcp/8000:8100"]
}

network_policy "backend-to-db" {
  namespace   = "/acme/prod"
  description = "Anything in the environment may open the database port..."
  subject     = [[local.env_tag]]
  object      = [["app=db"]]
  ports       = ["tcp/${var.db_port}"]
}

network_policy "no-web-to-db" {
  namespace   = "/acme/prod"
  description = "...except the web tier: a matching reject beats a matching allow."
  subject     = [["app=web"]]
  object      = [["app=db"]]
  action      = "reject"
  ports       = ["tcp/${var.db_port}"]
  logs_enabled = true
}

network_policy "ping-inside" {
  namespace   = "/acme/prod"
  description = "Echo requests only (ICMP type 8, code 0) between workloads."
  subject     = [["$identity=processingunit"]]
  object      = [["$identity=processingunit"]]
  ports       = ["icmp/8/0"]
}

network_policy "dns-out" {
  namespace         = "/acme/prod"
  description       = "Workloads resolve names; the resolvers are not workloads, so outgoing only."
  subject           = [["$identity=processingunit"]]
  object            = [["kind=dns"]]
  apply_policy_mode = "outgoing"
}

network_policy "web-to-internet" {
  namespace         = "/acme/prod"
  subject           = [["app=web"]]
  object            = [["$name=internet"]]
  ports             = ["tcp/443"]
  apply_policy_mode = "outgoing"
}

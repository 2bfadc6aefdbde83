/*
 * Namespace, enforcer hosts and workloads. Each enforcer is a network namespace on this machine
 * (`microseg sandbox up` creates them), so the example runs anywhere with root and no VMs.
 */

namespace "/acme" {
  default_incoming_action = "reject"
  default_outgoing_action = "reject"
}

namespace "/acme/prod" {
  namespace   = "/acme"
  description = "Production workloads"
}

enforcer_profile "default" {
  namespace = "/acme/prod"
  # Keep ssh reachable whatever the policies say, so a bad policy cannot lock admins out.
  failsafe = ["tcp/22"]
}

enforcer "web-1" {
  namespace = "/acme/prod"
  profile   = enforcer_profile.default.name
  tags      = ["zone=dmz"]

  connection {
    type  = "netns"
    netns = "mseg-web-1"
  }
}

enforcer "api-1" {
  namespace = "/acme/prod"
  profile   = enforcer_profile.default.name

  connection {
    type  = "netns"
    netns = "mseg-api-1"
  }
}

enforcer "db-1" {
  namespace = "/acme/prod"
  profile   = enforcer_profile.default.name

  connection {
    type  = "netns"
    netns = "mseg-db-1"
  }
}

processing_unit "web" {
  namespace = "/acme/prod"
  enforcer  = enforcer.web-1.name
  addresses = [local.tiers.web]
  tags      = ["app=web", local.env_tag, "tier=frontend"]
}

processing_unit "api" {
  namespace = "/acme/prod"
  enforcer  = enforcer.api-1.name
  addresses = [local.tiers.api]
  tags      = ["app=api", local.env_tag, "tier=backend"]
}

processing_unit "db" {
  namespace = "/acme/prod"
  enforcer  = enforcer.db-1.name
  addresses = [local.tiers.db]
  tags      = ["app=db", local.env_tag, "tier=data"]
}

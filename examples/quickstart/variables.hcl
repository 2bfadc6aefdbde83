# Inputs of the quickstart. Override with --var env=staging, a --var-file, or MICROSEG_VAR_env.

variable "env" {
  type        = string
  default     = "prod"
  description = "Environment tag carried by every workload of this example."

  validation {
    condition     = contains(["prod", "staging"], var.env)
    error_message = "env must be \"prod\" or \"staging\"."
  }
}

variable "db_port" {
  type    = number
  default = 5432
}

locals {
  # The three tiers, one enforcer host (a network namespace) each, addressed from 198.18.0.0/15.
  tiers = {
    web = "198.18.1.10"
    api = "198.18.2.10"
    db  = "198.18.3.10"
  }
  env_tag = "env=${var.env}"
}

output "tiers" {
  value = keys(local.tiers)
}

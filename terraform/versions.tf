terraform {
  required_version = ">= 1.5"

  required_providers {
    incus = {
      source = "lxc/incus"
      # Exact pin: v1.1.1 is the newest release tag of lxc/terraform-provider-incus (2026-06-04).
      version = "1.1.1"
    }
  }
}

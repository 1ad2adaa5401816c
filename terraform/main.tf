locals {
  # Name of the provider's one remote. The provider pins the server certificate found at
  # <incus_config_dir>/servercerts/<remote_name>.crt.
  remote_name = "ccops"

  # An IPv6 literal needs brackets inside a URL.
  remote_host = strcontains(var.incus_remote_address, ":") ? "[${var.incus_remote_address}]" : var.incus_remote_address

  # First boot: cloud-init writes the key to a root-only file and `tailscale up` reads it from
  # there ("file:" prefix), so the key never appears on a command line inside the VM.
  ts_key_path = "/run/ccops/ts-auth-key"
  user_data = join("\n", ["#cloud-config", yamlencode({
    write_files = [{
      path        = local.ts_key_path
      owner       = "root:root"
      permissions = "0600"
      content     = var.ts_auth_key
    }]
    # cloud-init runs these one after another whatever each one's exit status, so the key file
    # is removed even when `tailscale up` fails.
    runcmd = [
      ["systemctl", "start", "tailscaled.service"],
      ["tailscale", "up", "--auth-key=file:${local.ts_key_path}"],
      ["rm", "-f", local.ts_key_path],
    ]
  })])
}

provider "incus" {
  config_dir                   = var.incus_config_dir
  generate_client_certificates = false
  accept_remote_certificate    = false
  default_remote               = local.remote_name

  remote {
    name    = local.remote_name
    address = "https://${local.remote_host}:${var.incus_remote_port}"
  }
}

resource "incus_instance" "cc_nix_test" {
  name    = var.instance_name
  type    = "virtual-machine"
  image   = var.image
  project = var.incus_project
  remote  = local.remote_name

  config = {
    "limits.memory"        = var.memory
    "limits.cpu"           = tostring(var.cpu)
    "cloud-init.user-data" = local.user_data
  }

  wait_for {
    type = "agent"
  }
}

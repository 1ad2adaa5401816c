# The same variables, with the same types and sensitivity, are in standin/variables.tf.
# tests/test_terraform_module.py keeps the two in step.

variable "incus_remote_address" {
  type        = string
  description = "Address (IP or host name, no scheme or port) of the Incus server that hosts the VM, e.g. 100.117.251.31."
}

variable "incus_remote_port" {
  type        = number
  default     = 8443
  description = "HTTPS port of the Incus API on incus_remote_address."
}

variable "incus_config_dir" {
  type        = string
  description = "Incus client config dir: client.crt and client.key (a certificate the server trusts) and servercerts/ccops.crt (the server's pinned certificate)."
}

variable "incus_project" {
  type        = string
  default     = "terraform-ci"
  description = "Incus project the instance lives in."
}

variable "instance_name" {
  type        = string
  default     = "cc-nix-test"
  description = "Name of the instance."
}

variable "image" {
  type        = string
  default     = "images:nixos/25.11"
  description = "Image to create the VM from, as the Incus server names it. It must be a NixOS VM image with cloud-init and tailscale enabled."
}

variable "memory" {
  type        = string
  default     = "8GiB"
  description = "limits.memory of the instance, in Incus units (e.g. 8GiB)."
}

variable "cpu" {
  type        = number
  default     = 4
  description = "limits.cpu of the instance: the number of vCPUs."
}

variable "ts_auth_key" {
  type        = string
  sensitive   = true
  description = "Tailscale auth key the VM joins the tailnet with on first boot. Pass it only as TF_VAR_ts_auth_key; it ends up in the state file (inside cloud-init.user-data), so prefer a one-time, ephemeral key."
}

# The real module's variables (../variables.tf): the same names, types and sensitivity, so ccops
# drives both the same way. The stand-in uses the local incus CLI, so the remote and config dir
# variables are accepted and not used, and ts_auth_key goes nowhere.

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
  default     = "ccops-busybox"
  description = "Image to launch the stand-in container from (the test machine's busybox image alias)."
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
  description = "Tailscale auth key; the real module hands it to the VM. The stand-in requires it like the real module and uses it nowhere."
}

# The real module's output names (../outputs.tf).

output "name" {
  description = "Name of the instance."
  value       = var.instance_name
}

output "addresses" {
  description = "Always empty here: the container's addresses are not known to Terraform."
  value       = compact([]) # an empty list(string), the type the real module's output has
}

output "memory" {
  description = "limits.memory of the instance."
  value       = var.memory
}

# standin/outputs.tf has the same output names.

output "name" {
  description = "Name of the instance."
  value       = incus_instance.cc_nix_test.name
}

output "addresses" {
  description = "The instance's IPv4 and IPv6 addresses as the provider reports them (ipv4_address, ipv6_address); empty ones are left out."
  value       = compact([incus_instance.cc_nix_test.ipv4_address, incus_instance.cc_nix_test.ipv6_address])
}

output "memory" {
  description = "limits.memory of the instance."
  value       = incus_instance.cc_nix_test.config["limits.memory"]
}

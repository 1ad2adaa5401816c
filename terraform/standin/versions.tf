terraform {
  required_version = ">= 1.5"
  # No providers: terraform_data and local-exec are built into Terraform.
}

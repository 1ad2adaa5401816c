# Stands in for ../main.tf in tests: the same inputs and outputs, no provider to download.
# Creating the resource (and replacing it, e.g. `apply -replace=terraform_data.cc_nix_test`)
# (re)creates a container with the local incus CLI; destroying it deletes the container.

resource "terraform_data" "cc_nix_test" {
  triggers_replace = [var.instance_name, var.memory, var.cpu, var.image]

  # Kept for the destroy-time provisioner, which may only refer to self.
  input = {
    name    = var.instance_name
    project = var.incus_project
  }

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    # The values arrive as environment variables, never spliced into the command.
    command = <<-EOT
      set -eu
      if incus info --project "$PROJECT" "$NAME" >/dev/null 2>&1; then
        incus delete --force --project "$PROJECT" "$NAME"
      fi
      incus launch --quiet "$IMAGE" "$NAME" --project "$PROJECT" \
        -c limits.memory="$MEMORY" -c limits.cpu="$CPU"
    EOT
    environment = {
      NAME    = var.instance_name
      PROJECT = var.incus_project
      IMAGE   = var.image
      MEMORY  = var.memory
      CPU     = tostring(var.cpu)
    }
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      if [ -n "$NAME" ] && incus info --project "$PROJECT" "$NAME" >/dev/null 2>&1; then
        incus delete --force --project "$PROJECT" "$NAME"
      fi
    EOT
    # An imported resource has no input: the create provisioner deletes the container then.
    environment = {
      NAME    = try(self.input.name, "")
      PROJECT = try(self.input.project, "")
    }
  }
}

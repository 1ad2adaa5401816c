"""Runners of outside systems: each module owns one (tmux, git, Incus, Terraform, claude)."""

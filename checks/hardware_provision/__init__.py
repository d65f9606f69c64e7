"""Checks for playbooks/roles/hw_provision."""

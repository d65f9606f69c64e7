"""Checks for playbooks/roles/baseline."""

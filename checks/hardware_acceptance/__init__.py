"""Checks for playbooks/roles/hw_burn_in: a new server meets ``hardware_spec`` and passed its burn-in."""

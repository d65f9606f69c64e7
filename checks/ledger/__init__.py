"""Checks for playbooks/roles/ledger, on the host that serves the ledger."""

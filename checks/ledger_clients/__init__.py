"""Checks for playbooks/roles/ledger_clients, on the ledger's clients."""

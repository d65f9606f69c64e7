"""Checks that the failed ledger primary stays down, run on the ledger's clients."""

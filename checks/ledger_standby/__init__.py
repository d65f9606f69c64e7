"""Checks of the warm standby (projects/ledger-backup.yaml, step standby)."""

"""Checks that the primary's backups are current (projects/ledger-backup.yaml, step backup)."""

"""Checks for the whole app segment once every member is configured (playbooks/roles/netcfg): member to member."""

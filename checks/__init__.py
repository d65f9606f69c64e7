"""testinfra check modules: read-only, expected values from inventory vars (host.ansible.get_variables())."""

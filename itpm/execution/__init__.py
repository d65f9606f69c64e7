"""The execution layer: the only part of itpm that changes hosts (Ansible through ansible-runner)."""

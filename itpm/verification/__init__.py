"""The verification layer: testinfra checks that only read hosts, with typed per-host results."""

"""Checks of the lab-baseline compliance standard (standards/lab-baseline.yaml), one or two per control."""

"""Typed values that cross layers: results of runs and checks (and, later, project files)."""

"""Fixtures shared by the unit tests: ``engine`` opens runs of the engine on a real log with fake ports."""

from __future__ import annotations

from tests.unit.engine_runs import engine

__all__ = ["engine"]

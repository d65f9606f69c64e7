"""Fixtures shared by the unit tests: ``engine`` opens runs of the engine on a real log with fake ports;
``ssh_keys`` holds real SSH signing keys made once per session."""

from __future__ import annotations

from tests.unit.engine_runs import engine
from tests.unit.ssh_keys import ssh_keys

__all__ = ["engine", "ssh_keys"]

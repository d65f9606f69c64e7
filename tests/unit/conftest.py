"""Fixtures shared by the unit tests: ``engine`` opens runs of the engine on a real log with fake ports.

``ssh_keys`` holds real SSH signing keys made once per session; ``logged_run`` and ``archive`` are a run with
signed approvals and its evidence archive (evidence_runs.py).
"""

from __future__ import annotations

from tests.unit.engine_runs import engine
from tests.unit.evidence_runs import archive, logged_run
from tests.unit.ssh_keys import ssh_keys

__all__ = ["archive", "engine", "logged_run", "ssh_keys"]

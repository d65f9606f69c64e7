"""A benchmark's own surroundings: its state dir and an inventory dir with the lab environment's group_vars.

SIGTERM becomes SystemExit, so that a benchmark's cleanup (Ansible runs, its lab) runs when it is stopped.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from itpm.lab.fleet import MAX_HOSTS
from itpm.settings import Settings

__all__ = ["REPO", "fleet_sizes", "prepare"]

REPO = Path(__file__).resolve().parents[1]


def prepare(state_dir: Path, inventory: Path, **settings: Any) -> Settings:  # noqa: ANN401 - Settings fields
    """Return settings on ``state_dir``, with ``inventory``'s directory holding the lab's group_vars."""
    # SIGTERM (a timeout, `kill`) would end Python without running the finally blocks that stop Ansible runs and
    # bring the lab down; as SystemExit it runs them.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    inventory.parent.mkdir(parents=True, exist_ok=True)
    # The baseline role and its checks read their expected values from the inventory's group_vars.
    shutil.rmtree(inventory.parent / "group_vars", ignore_errors=True)
    shutil.copytree(REPO / "inventory" / "lab" / "group_vars", inventory.parent / "group_vars")
    return Settings(state_dir=state_dir, **settings)


def fleet_sizes(parser: argparse.ArgumentParser, text: str) -> list[int]:
    """Return the fleet sizes of ``--hosts 10,50``; a bad value ends the program through ``parser.error``."""
    try:
        sizes = [int(h) for h in text.split(",") if h.strip()]
    except ValueError:
        parser.error(f"--hosts {text!r}: give host counts like 10,50")
    if not sizes or not all(1 <= h <= MAX_HOSTS for h in sizes):
        parser.error(f"--hosts: each fleet has 1 to {MAX_HOSTS} hosts")
    return sizes

"""A benchmark's own surroundings: its state dir, an inventory dir with the lab's group_vars, a Prefect server.

SIGTERM becomes SystemExit, so that a benchmark's cleanup (Ansible runs, its lab) runs when it is stopped, but
only until its first playbook run: ansible-runner then replaces the SIGTERM and SIGINT handlers of the main
thread for good with its own, which only cancel the playbook running at the time. After that, stop a benchmark
with SIGKILL, then bring its lab down and stop its Prefect server (docs/performance.md, Reproduce).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from itpm.lab.fleet import MAX_HOSTS
from itpm.prefect_server import client_environment, ensure_server, stop_server
from itpm.settings import Settings

__all__ = [
    "REPO",
    "fleet_sizes",
    "free_port",
    "hand_checks_command",
    "prefect_server",
    "prepare",
    "save_project",
    "shipped_project",
]

REPO = Path(__file__).resolve().parents[1]
# A project file's keys whose values are repository paths (besides `checks`, a list of them).
_PATH_KEYS = {"playbook", "rollback", "standard"}


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


def shipped_project(shipped: str, inventory: Path) -> dict[str, Any]:
    """Return a shipped project file (``'projects/x.yaml'``) as a document for the bench's ``inventory``.

    Repository paths become absolute and approval gates are dropped: a person's wait is no machine's time.
    """
    document: dict[str, Any] = _absolute(yaml.safe_load((REPO / shipped).read_text()))
    document["scope"]["inventory"] = str(inventory)
    for step in document["steps"]:
        step.get("strategy", {}).pop("approval", None)
    return document


def save_project(document: dict[str, Any], state_dir: Path, file_name: str) -> Path:
    """Write ``document`` as ``state_dir/file_name``; return its path.

    A playbooks/ dir marks the project's root: relative paths left in it (the stakeholders' notice files) land
    in the bench's state dir, not in the checkout.
    """
    (state_dir / "playbooks").mkdir(parents=True, exist_ok=True)
    path = state_dir / file_name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def hand_checks_command(checks: Path, inventory: Path, junit: Path) -> list[str]:
    """Return the hand-run pytest command line: testinfra's own ansible backend, as one types it in the checkout.

    checks/pytest.ini still loads itpm's plugin, as it does by hand: the checks take their expected values from
    its ``host_vars`` fixture (``host.ansible.get_variables()``, which testinfra's ansible backend serves too).
    The connection is testinfra's own; the plugin adds no report unless asked. The junit XML tells the outcomes.
    """
    return [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "--hosts=ansible://all",
        f"--ansible-inventory={inventory}",
        f"--junitxml={junit}",
        str(checks),
    ]


def _absolute(node: Any) -> Any:  # noqa: ANN401 - a YAML document's nodes
    """Return ``node`` with the repository paths in it (playbooks, checks, standard) made absolute."""
    if isinstance(node, list):
        return [_absolute(item) for item in node]
    if not isinstance(node, dict):
        return node
    copy: dict[str, Any] = {}
    for key, value in node.items():
        if key in _PATH_KEYS and isinstance(value, str):
            copy[key] = str(REPO / value)
        elif key == "checks" and isinstance(value, list):
            copy[key] = [str(REPO / path) for path in value]
        else:
            copy[key] = _absolute(value)
    return copy


def fleet_sizes(parser: argparse.ArgumentParser, text: str) -> list[int]:
    """Return the fleet sizes of ``--hosts 10,50``; a bad value ends the program through ``parser.error``."""
    try:
        sizes = [int(h) for h in text.split(",") if h.strip()]
    except ValueError:
        parser.error(f"--hosts {text!r}: give host counts like 10,50")
    if not sizes or not all(1 <= h <= MAX_HOSTS for h in sizes):
        parser.error(f"--hosts: each fleet has 1 to {MAX_HOSTS} hosts")
    return sizes


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now (for the benchmark's own Prefect server)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def prefect_server(settings: Settings) -> Iterator[str]:
    """Start a Prefect server of the benchmark's own and point this process at it; yield its API URL.

    Flows then run in this process against it, as ``itpm run`` does; the server is stopped on exit. Its start
    (10-30 s) is never timed: a user's server is already running.
    """
    # Prefect's log worker prints "--- Error logging to API ---" for what it could not send once the server is
    # stopped; the CLI switches such reports off too (itpm/cli/typer_app.py), and the runs have ended by then.
    logging.raiseExceptions = False
    try:
        url = ensure_server(settings)
        os.environ.update(client_environment(settings))
        # A flow started from here reads its settings from the environment (flows call load_settings()).
        os.environ["ITPM_STATE_DIR"] = str(settings.state_dir)
        os.environ["ITPM_PREFECT_PORT"] = str(settings.prefect_port)
        yield url
    finally:
        stop_server(settings)

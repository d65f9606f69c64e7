"""The lab fleet the lab tests run on: 5 real SSH hosts, brought up once per session and torn down after.

Lab tests need root (namespaces, bridges, mounts); CI runs as root. They are never skipped: without root
they fail, saying so.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from testinfra.host import Host

import itpm.verification.pytest_plugin  # noqa: F401 - registers the itpm:// testinfra connection
from itpm.execution.runner import run_playbook
from itpm.inventory import Inventory, load_inventory
from itpm.lab.fleet import lab_down, lab_up
from itpm.lab.keys import ensure_key_pair
from itpm.models.results import PlaybookResult
from itpm.prefect_server import client_environment, ensure_server, stop_server
from itpm.settings import Settings
from itpm.verification.backend import InventoryBackend

if TYPE_CHECKING:
    from .world import World

# data/ holds playbooks and check modules that itpm runs against lab hosts; they are not tests of this suite.
collect_ignore = ["data"]

REPO = Path(__file__).resolve().parents[2]
BASELINE = REPO / "playbooks" / "baseline.yml"
BASELINE_CHECKS = REPO / "checks" / "baseline"
# Lab names come from the checkout's path, so that two checkouts (a CI clone beside a working tree) can run
# their lab tests at once without tearing down each other's hosts.
CHECKOUT_TAG = hashlib.sha256(str(REPO).encode()).hexdigest()[:5]
# Under pytest-xdist each worker is a session of its own, with a lab of its own: gw1's is t<tag>1.
# ITPM_TEST_LAB names it by hand (at most 6 characters: own labs add a suffix), for sessions in one checkout at once.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "").removeprefix("gw")
LAB = os.environ.get("ITPM_TEST_LAB", f"t{CHECKOUT_TAG}") + _WORKER
HOSTS = 5


@dataclass(frozen=True)
class Lab:
    """A running lab: its settings, its inventory, and the private key of the service account."""

    name: str
    settings: Settings
    inventory_path: Path
    service_key: Path

    @property
    def inventory(self) -> Inventory:
        """Return the inventory as the services see it (parsed anew: tests may change files)."""
        return load_inventory(self.inventory_path)

    def host(self, name: str) -> Any:
        """Return a fresh testinfra host over itpm's strict connection (no cached SSH session)."""
        return Host(InventoryBackend(name, ansible_inventory=str(self.inventory_path)))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/lab as a lab test."""
    for item in items:
        if "tests/lab/" in str(item.path):
            item.add_marker(pytest.mark.lab)


def make_inventory_dir(directory: Path, service_public_key: str) -> Path:
    """Copy the lab environment's group_vars and point the service account at the test's own key."""
    shutil.copytree(REPO / "inventory" / "lab" / "group_vars", directory / "group_vars")
    overrides = {"baseline_service_account_key": service_public_key}
    (directory / "group_vars" / "all" / "zz_test.yml").write_text(yaml.safe_dump(overrides))
    return directory / "hosts.yml"


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Bring up the test lab (clearing any leftover of a crashed session first) and tear it down after."""
    with own_lab(tmp_path_factory.mktemp("lab"), "", HOSTS) as session_lab:
        yield session_lab


@pytest.fixture(scope="session")
def first_apply(lab: Lab) -> PlaybookResult:
    """Apply the baseline once to the fresh hosts; tests that need converged hosts depend on this."""
    return run_playbook(BASELINE, lab.inventory, lab.settings)


@pytest.fixture
def converged(lab: Lab, first_apply: PlaybookResult) -> Iterator[Lab]:
    """A lab whose hosts are converged before the test and are converged again after it (tests break them)."""
    assert first_apply.succeeded, first_apply.stdout_tail
    yield lab
    repair = run_playbook(BASELINE, lab.inventory, lab.settings)
    assert repair.succeeded, f"could not re-converge the lab after the test: {repair.failed}"


RunPlaybook = Callable[..., PlaybookResult]


@contextlib.contextmanager
def wrong_host_key(lab: Lab, host: str) -> Iterator[str]:
    """For the block, known_hosts holds h1's key for ``host`` (as if ``host`` were rebuilt); yield its address."""
    entry = lab.inventory.host(host)
    assert entry.known_hosts is not None
    original = entry.known_hosts.read_text()
    other_key = next(line.split(" ", 1)[1] for line in original.splitlines() if line.startswith("h1,"))
    entry.known_hosts.write_text(
        "".join(
            f"{host},{entry.address} {other_key}\n" if line.startswith(f"{host},") else line + "\n"
            for line in original.splitlines()
        )
    )
    try:
        yield entry.address
    finally:
        entry.known_hosts.write_text(original)


def free_port() -> int:
    """Return a TCP port free on loopback right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real Prefect server on SQLite for this module, as `itpm server start` runs it."""
    settings = Settings(state_dir=tmp_path_factory.mktemp("prefect"), prefect_port=free_port())
    ensure_server(settings)
    yield client_environment(settings)
    stop_server(settings)


@pytest.fixture
def world(lab: Lab, prefect_api: dict[str, str], tmp_path: Path) -> Iterator[World]:
    """A project-run world on the session lab for one test (tests/lab/world.py); its background runs die after."""
    from .world import World  # noqa: PLC0415 - world.py builds on this module's Lab and run_itpm

    fresh = World.fresh(lab, prefect_api, tmp_path)
    yield fresh
    fresh.stop_background()


@contextlib.contextmanager
def own_lab(base: Path, suffix: str, count: int) -> Iterator[Lab]:
    """Bring up a lab (clearing any leftover of a crashed session first) and tear it down after.

    Modules whose projects change hosts for good (firewall, kill, groups) get one of their own, named after the
    session lab plus ``suffix`` (lab names have at most 8 characters).
    """
    if os.geteuid() != 0:
        pytest.fail("lab tests need root to create namespaces and mounts: run `make test` as root, as CI does")
    name = f"{LAB}{suffix}"
    settings = Settings(state_dir=base / "state")
    service_key = base / "service_ed25519"
    pair = ensure_key_pair(service_key, "itpm-svc@test")
    inventory_path = make_inventory_dir(base / "inventory", pair.public)
    lab_down(settings, name=name)
    lab_up(settings, name=name, count=count, inventory=inventory_path)
    try:
        yield Lab(name, settings, inventory_path, service_key)
    finally:
        lab_down(settings, name=name)


def run_itpm(env: dict[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run the ``itpm`` CLI from the checkout in ``env``; return its exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "itpm", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )

"""Runs of the engine for unit tests: a small project, its inventory, a real SQLite log, and the fake ports.

    def test_x(engine: Engine) -> None:
        run = engine.open(project(), FakeExecutor(), FakeVerifier())
        run.start()
        outcomes = drive(run, run.project.steps[0])

The ``engine`` fixture closes every run it opened and the log at the end of the test.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from itpm.inventory import Inventory, InventoryHost
from itpm.log.events import Event
from itpm.log.store import ProjectLog
from itpm.models.project import Project, Step
from itpm.models.standard import Standard
from itpm.models.statuses import Verdict
from itpm.project_run import BatchOutcome, ProjectRun
from itpm.settings import Settings
from tests.unit.fake_ports import FakeExecutor, FakeVerifier

__all__ = ["HOSTS", "PLAYBOOK", "ROLLBACK", "Engine", "drive", "engine", "inventory", "project", "project_data", "step"]

HOSTS = ("h1", "h2", "h3", "h4", "h5", "h6")
PLAYBOOK = Path("playbooks/site.yml")
ROLLBACK = Path("playbooks/undo.yml")
TEAM = [
    {"name": "Dana Engineer", "role": "engineer", "user": "dana"},
    {"name": "Chris Change", "role": "change_manager", "user": "chris"},
    {"name": "Erin Engineer", "role": "engineer", "user": "erin"},
]


def step(name: str = "s", **changes: Any) -> dict[str, Any]:
    """Return a step as a project file writes it: canary 1, then batches of 2, no tolerance, a rollback."""
    strategy = {"canary": 1, "batch_size": 2, **changes.pop("strategy", {})}
    return {"name": name, "playbook": str(PLAYBOOK), "checks": ["checks/fake"], "strategy": strategy, **changes}


def project_data(*steps: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Return a project file's data over ``HOSTS`` with the given steps (one step with a rollback without)."""
    data: dict[str, Any] = {
        "name": "engine-test",
        "title": "Engine rules under test",
        "kind": "network_config",
        "objectives": ["Every rule holds"],
        "scope": {"inventory": "inventory/test/hosts.yml"},
        "team": TEAM,
        "steps": list(steps) or [step(rollback=str(ROLLBACK))],
    }
    return {**data, **changes}


def project(*steps: dict[str, Any], **changes: Any) -> Project:
    """Return the project of ``project_data``."""
    return Project.model_validate(project_data(*steps, **changes))


def inventory(path: Path, hosts: tuple[str, ...] = HOSTS) -> Inventory:
    """Return the inventory of ``hosts`` (one group ``all``), as ``load_inventory`` would read it."""
    return Inventory(
        path=path,
        hosts={h: InventoryHost(name=h, address=f"10.0.0.{i}", groups=("web",)) for i, h in enumerate(hosts, 1)},
        groups={"all": hosts, "web": hosts},
    )


class Engine:
    """Opens runs of a project on one SQLite project log, with fake ports."""

    def __init__(self, tmp_path: Path, state_dir: Path) -> None:
        self.tmp_path = tmp_path
        self.settings = Settings(state_dir=state_dir, lock_wait_seconds=0)
        self.log = ProjectLog.for_settings(self.settings)
        self.inventory = inventory(tmp_path / "hosts.yml")
        self.runs: list[ProjectRun] = []

    def open(
        self,
        project: Project,
        executor: FakeExecutor | None = None,
        verifier: FakeVerifier | None = None,
        *,
        run_id: str = "engine-test-1",
        requester: str = "dana",
        standard: Standard | None = None,
    ) -> ProjectRun:
        """Return the run ``run_id`` of ``project`` (a new one, or the logged one continued), working through fakes."""
        run = ProjectRun(
            project_file=self.tmp_path / "project.yaml",
            project=project,
            run_id=run_id,
            requester=requester,
            settings=self.settings,
            log=self.log,
            inventory=self.inventory,
            executor=executor or FakeExecutor(),
            verifier=verifier or FakeVerifier(),
            standard=standard,
        )
        return self.adopt(run)

    def adopt(self, run: ProjectRun) -> ProjectRun:
        """Return ``run``, closed (and its log, if it opened its own) when the test ends."""
        self.runs.append(run)
        return run

    def logged(self, run_id: str = "engine-test-1", *kinds: str) -> list[Event]:
        """Return the run's events as the log holds them (not the run's memory)."""
        return self.log.events(run_id, kinds=list(kinds)) if kinds else self.log.events(run_id)

    def close(self) -> None:
        for run in self.runs:
            run.close(notices_timeout_s=1.0)
            run.log.close()
        self.log.close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An ``Engine`` on a fresh log; closes its runs and the log afterwards.

    The log is the real SQLite one, in memory-backed /dev/shm where there is one: the log commits each event
    with a full sync, 13 ms on this disk, and a run of a few batches logs a hundred events.
    """
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else tmp_path, prefix="itpm-engine-") as state:
        opened = Engine(tmp_path, Path(state))
        yield opened
        opened.close()


def drive(run: ProjectRun, step: Step) -> list[BatchOutcome]:
    """Work the step's batches as the project flow does, until one halts; return each batch's outcome."""
    outcomes = []
    for batch in run.batches(step):
        outcome = run.run_batch(step, batch)
        outcomes.append(outcome)
        if outcome.verdict is Verdict.HALTED:
            break
    return outcomes

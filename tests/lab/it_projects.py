"""Running the shipped IT projects and runbooks on a lab of their own: copies of the files, pointed at it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from itpm.log.store import ProjectLog
from itpm.models.change_control import ChangeClass, classify
from itpm.models.project import Project
from itpm.project_file import load_project

from .conftest import REPO, Lab, run_itpm

_PATH_KEYS = {"playbook", "rollback", "standard"}


def _absolute(node: Any) -> Any:
    """Return ``node`` with every repository path (playbook, checks, rollback, standard) made absolute."""
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


def shipped_copy(shipped: str, root: Path, inventory: Path, *, change: Any = None, approval_gates: bool = True) -> Path:
    """Copy ``projects/x.yaml`` or ``runbooks/x.yaml`` into ``root`` pointed at ``inventory``; return the copy.

    Repository paths become absolute; ``approval_gates=False`` drops the steps' gates; ``change(document)`` may edit
    the rest. ``root`` needs a ``playbooks/`` directory: it marks the root the copy's other paths resolve against.
    """
    document = _absolute(yaml.safe_load((REPO / shipped).read_text()))
    if "scope" in document:
        document["scope"]["inventory"] = str(inventory)
        if not approval_gates:
            _drop_gates(document, load_project(REPO / shipped))
    else:
        document["inventory"] = str(inventory)
    if change is not None:
        change(document)
    path = root / Path(shipped).name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _drop_gates(document: dict[str, Any], project: Project) -> None:
    """Drop each step's approval gate; a step its risks make a normal change is pre-authorised instead.

    Without the gate such a step would be refused (a normal change needs one approval); a high-risk one cannot be
    pre-authorised, so a shipped high-risk step keeps failing here, as it should: its test must approve it.
    """
    for step in document["steps"]:
        strategy = step.get("strategy", {})
        if strategy.pop("approval", None) is None:
            continue
        if classify(project, project.step(step["name"])).risk_class is ChangeClass.NORMAL:
            strategy["pre_authorised"] = "a lab test of the project itself (test_projects.py proves the gates)"


class Site:
    """A lab with a state dir and Prefect server, and the shipped files copied to point at its inventory."""

    def __init__(self, lab: Lab, root: Path, prefect_api: dict[str, str]) -> None:
        self.lab, self.root = lab, root
        (root / "playbooks").mkdir(exist_ok=True)  # marks root as the root the copies' paths resolve against
        self.env = {**os.environ, **prefect_api, "ITPM_STATE_DIR": str(root / "state")}
        self.env.pop("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", None)

    def address(self, host: str) -> str:
        """Return a lab host's address."""
        return self.lab.inventory.host(host).address

    @property
    def log(self) -> ProjectLog:
        return ProjectLog(f"sqlite:///{self.root / 'state' / 'project-log.sqlite'}")

    def copy(self, shipped: str, change: Any = None) -> Path:
        """Copy ``projects/x.yaml`` or ``runbooks/x.yaml`` for this lab: its inventory, no approval gates.

        Approval gates are proven in test_projects.py; here the projects themselves are under test.
        """
        return shipped_copy(shipped, self.root, self.lab.inventory_path, change=change, approval_gates=False)

    def itpm(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return run_itpm(self.env, *args, timeout=timeout)

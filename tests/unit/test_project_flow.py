"""The project flow's tasks get the ProjectRun without Prefect walking through it (flows/project.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from prefect import flow
from prefect.testing.utilities import prefect_test_harness

from flows.project import _untraversed, audit_step
from itpm.project_run import ProjectRun


class _Trap(dict[str, Any]):
    """A host-vars mapping that records every walk through it: Prefect walks a dict through ``items()``."""

    walks: int = 0

    def items(self) -> Any:  # dict's own items view; its type is private to typeshed
        _Trap.walks += 1
        return super().items()


@dataclass
class _AuditResult:
    failed: dict[str, str] = field(default_factory=dict)


@dataclass
class _Project:
    def step(self, name: str) -> str:
        return name


@dataclass
class _RunLike:
    """What audit_step uses of a ProjectRun, plus an inventory-sized mapping inside (a dataclass, like ProjectRun)."""

    project: _Project = field(default_factory=_Project)
    host_vars: _Trap = field(default_factory=lambda: _Trap({f"h{i}": {"v": i} for i in range(200)}))
    audited: list[str] = field(default_factory=list)

    def audit(self, step: str, stage: str) -> _AuditResult:
        self.audited.append(f"{step} {stage}")
        return _AuditResult(failed={"h2": "check failed"})


def test_a_task_gets_the_run_itself_and_prefect_does_not_walk_through_it() -> None:
    run = _RunLike()

    @flow(persist_result=False)
    def one_audit(untraversed: bool) -> int:
        given = cast(ProjectRun, run)
        return audit_step(_untraversed(given) if untraversed else given, "baseline", "before")

    with prefect_test_harness(server_startup_timeout=60):
        _Trap.walks = 0
        assert one_audit(untraversed=True) == 1  # the task ran on the run itself: one host failed
        assert run.audited == ["baseline before"]
        assert _Trap.walks == 0
        # The trap does see a walk when the run is passed as it is: the test can tell the two apart.
        assert one_audit(untraversed=False) == 1
        assert _Trap.walks > 0

"""Fake ports for the engine's unit tests: an executor and a verifier that answer from a script, and remember.

Their answers are the values the real adapters return (``PlaybookResult``, ``VerificationResult``), so the engine
cannot tell them from Ansible and testinfra; a lab run recorded in tests/unit/data can be replayed as well.

    executor = FakeExecutor({PLAYBOOK: {"h2": Outcome.UNREACHABLE}})
    verifier = FakeVerifier({"h3": Outcome.CHECK_FAILED})
    ...  # the engine works through them
    executor.applied(PLAYBOOK)  # [('h1',), ('h2', 'h3')]: the hosts of each apply, in order
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from itpm.execution.events import parse_event, summarize_hosts
from itpm.execution.runner import EventCallback
from itpm.models.results import (
    CheckOutcome,
    CheckResult,
    HostChecks,
    HostRunResult,
    HostStatus,
    PlannedChange,
    PlaybookResult,
    TaskFailure,
    VerificationResult,
)

__all__ = ["CHECKS", "Applied", "FakeExecutor", "FakeVerifier", "Outcome", "Verified", "recorded_hosts"]

DATA = Path(__file__).parent / "data"
CHECKS = ("test_banner_shown", "test_sshd_hardened")  # what the fake verifier runs on every host
FAILED_TASK = "Install the agent"
UNREACHABLE_MESSAGE = "Failed to connect to the host via ssh: ssh: connect to host h2 port 22: Connection refused"


class Outcome(StrEnum):
    """How one host comes out of the fakes (a host missing from a script comes out ``OK``)."""

    OK = "ok"  # applied with changes, every check passes
    TASK_FAILED = "task failed"  # the executor: a task failed on the host
    UNREACHABLE = "unreachable"  # the executor or the verifier: the host could not be reached
    CHECK_FAILED = "check failed"  # the verifier: the first check's assertion did not hold
    NO_CHECKS = "no checks"  # the verifier: no check ran on the host


@dataclass(frozen=True)
class Applied:
    """One call to the executor: the playbook, the hosts, the extra vars, and whether it only planned."""

    playbook: Path
    hosts: tuple[str, ...]
    extravars: dict[str, Any]
    check_mode: bool


@dataclass(frozen=True)
class Verified:
    """One call to the verifier."""

    checks: tuple[Path, ...]
    hosts: tuple[str, ...]
    extravars: dict[str, Any]


def recorded_hosts(name: str, hosts: Sequence[str]) -> dict[str, HostRunResult]:
    """Return the per-host results of a lab run recorded in tests/unit/data (``name`` without ``.jsonl``)."""
    lines = (DATA / f"{name}.jsonl").read_text().splitlines()
    return summarize_hosts([parse_event(json.loads(line)) for line in lines], hosts)


def _host_result(host: str, outcome: Outcome, check_mode: bool) -> HostRunResult:
    if outcome is Outcome.TASK_FAILED:
        failure = TaskFailure(task=FAILED_TASK, message="non-zero return code\nE: Unable to locate package agent")
        return HostRunResult(host=host, status=HostStatus.FAILED, ok_tasks=2, failure=failure, duration_s=0.5)
    if outcome is Outcome.UNREACHABLE:
        failure = TaskFailure(task="Gathering Facts", message=UNREACHABLE_MESSAGE.replace("h2", host))
        return HostRunResult(host=host, status=HostStatus.UNREACHABLE, failure=failure, duration_s=0.5)
    changes = (PlannedChange(task="Banner shown before SSH login", diff="-old\n+new\n"),) if check_mode else ()
    return HostRunResult(
        host=host, status=HostStatus.CHANGED, ok_tasks=3, changed_tasks=1, changes=changes, duration_s=0.5
    )


@dataclass
class FakeExecutor:
    """An ``Executor`` whose hosts come out as ``scripts[playbook]`` says (every host ``OK`` otherwise).

    ``recorded[playbook]`` replays recorded per-host results instead (hosts missing from the recording come out
    ``OK``). ``during_apply`` is called with each apply before it answers: a test stops a run mid-batch there.
    The scripts may be changed between runs: "the cause was fixed".
    """

    scripts: dict[Path, dict[str, Outcome]] = field(default_factory=dict)
    recorded: dict[Path, dict[str, HostRunResult]] = field(default_factory=dict)
    during_apply: Callable[[Applied], None] | None = None
    calls: list[Applied] = field(default_factory=list)
    leftovers_ended: int = 0

    def apply(
        self,
        playbook: Path,
        hosts: Sequence[str],
        extravars: Mapping[str, Any],
        *,
        on_event: EventCallback | None = None,
    ) -> PlaybookResult:
        """Return the scripted result of ``playbook`` on ``hosts``; remember the call."""
        call = Applied(playbook, tuple(hosts), dict(extravars), check_mode=False)
        self.calls.append(call)
        if self.during_apply is not None:
            self.during_apply(call)
        return self._result(call)

    def plan(self, playbook: Path, hosts: Sequence[str], extravars: Mapping[str, Any]) -> PlaybookResult:
        """Return the scripted check-mode result (a reachable host would change one task)."""
        call = Applied(playbook, tuple(hosts), dict(extravars), check_mode=True)
        self.calls.append(call)
        return self._result(call)

    def end_leftovers(self) -> int:
        """Count the call; a fake leaves no processes behind."""
        self.leftovers_ended += 1
        return 0

    def applied(self, playbook: Path) -> list[tuple[str, ...]]:
        """Return the hosts of each (non-check) apply of ``playbook``, oldest first."""
        return [c.hosts for c in self.calls if c.playbook == playbook and not c.check_mode]

    def _result(self, call: Applied) -> PlaybookResult:
        script = self.scripts.get(call.playbook, {})
        replay = self.recorded.get(call.playbook, {})
        hosts = {
            h: replay[h] if h in replay else _host_result(h, script.get(h, Outcome.OK), call.check_mode)
            for h in call.hosts
        }
        failed = any(r.status in (HostStatus.FAILED, HostStatus.UNREACHABLE) for r in hosts.values())
        return PlaybookResult(
            run_id="fake",
            playbook=call.playbook,
            check_mode=call.check_mode,
            strategy="linear",
            runner_status="failed" if failed else "successful",
            rc=2 if failed else 0,
            duration_s=0.5,
            hosts=hosts,
        )


@dataclass
class FakeVerifier:
    """A ``Verifier`` that runs ``CHECKS`` on every host; ``script`` and ``failing`` say which do not pass.

    ``failing`` names single checks that fail on a host, with their message: ``{"h2": {"test_x": "off"}}``.
    """

    script: dict[str, Outcome] = field(default_factory=dict)
    failing: dict[str, dict[str, str]] = field(default_factory=dict)
    checks: tuple[str, ...] = CHECKS
    calls: list[Verified] = field(default_factory=list)

    def verify(self, checks: Sequence[Path], hosts: Sequence[str], extravars: Mapping[str, Any]) -> VerificationResult:
        """Return each host's scripted check results; remember the call."""
        self.calls.append(Verified(tuple(checks), tuple(hosts), dict(extravars)))
        return VerificationResult(
            checks=tuple(checks), duration_s=0.2, hosts={h: HostChecks(host=h, checks=self._checks(h)) for h in hosts}
        )

    def verified(self) -> list[tuple[str, ...]]:
        """Return the hosts of each call, oldest first."""
        return [c.hosts for c in self.calls]

    def _checks(self, host: str) -> tuple[CheckResult, ...]:
        outcome = self.script.get(host, Outcome.OK)
        if outcome is Outcome.NO_CHECKS:
            return ()
        failing = dict(self.failing.get(host, {}))
        if outcome is Outcome.CHECK_FAILED:
            failing.setdefault(self.checks[0], "assertion failed")
        results = []
        for name in self.checks:
            check = f"checks/fake/test_fake.py::{name}"
            if outcome is Outcome.UNREACHABLE:
                result = CheckResult(check=check, host=host, outcome=CheckOutcome.UNREACHABLE, message="unreachable")
            elif name in failing:
                result = CheckResult(check=check, host=host, outcome=CheckOutcome.FAILED, message=failing[name])
            else:
                result = CheckResult(check=check, host=host, outcome=CheckOutcome.PASSED)
            results.append(result)
        return tuple(results)

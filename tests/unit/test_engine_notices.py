"""Stakeholder notices beside the run (itpm.notify.stakeholders): queued at once, delivered by a thread, all logged.

The channel is a fake that blocks until the test lets it go, so each test knows whether a delivery is under way
without measuring time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from itpm.log.events import ApprovalRequested, Event, NoticeSent, RunFinished, RunHalted
from itpm.models.project import Notice, PhaseName
from itpm.models.statuses import RunEnd, Verdict
from itpm.notify.address import ChannelKind, Destination
from itpm.notify.categories import notice_for
from itpm.notify.message import Message
from itpm.notify.secret_source import SecretSource
from itpm.notify.stakeholders import StakeholderNotifier
from itpm.project_run import ProjectRun
from tests.unit.engine_runs import PLAYBOOK, Engine, project
from tests.unit.fake_ports import FakeExecutor, Outcome

WANTS = ["halts", "approvals", "completion", "phase_changes"]
STAKEHOLDERS = [{"name": "Casey CIO", "role": "sponsor", "wants": WANTS, "channel": "file:reports/cio"}]


class BlockingChannel:
    """A ``Channel`` whose every send waits until ``release`` is set (at most ``block_s``), like a dead relay."""

    def __init__(self, block_s: float = 2.0) -> None:
        self.block_s = block_s
        self.sending = threading.Event()  # a send has begun
        self.release = threading.Event()
        self.sent: list[str] = []  # subjects of the sends that returned

    def send(self, to: Destination, message: Message, secrets: SecretSource) -> None:
        self.sending.set()
        self.release.wait(self.block_s)
        self.sent.append(message.subject)


@pytest.fixture
def channel() -> Iterator[BlockingChannel]:
    """A channel that blocks each send for up to 2 s; let go at the end, so a failed test leaves no sender stuck."""
    blocking = BlockingChannel()
    yield blocking
    blocking.release.set()


def _notified(run: ProjectRun, channel: BlockingChannel) -> ProjectRun:
    """Return ``run`` telling its stakeholders through ``channel``, wired as the project flow wires it."""
    run.notifier = StakeholderNotifier(
        run.project,
        run.run_id,
        events=lambda: run.record_keeper.events,
        record=run.log.append,
        base_dir=run.project_file.parent,
        channels={ChannelKind.FILE: channel},
    )
    return run


def _notices(engine: Engine) -> list[tuple[str, bool, str]]:
    return [(e.about, e.delivered, e.error) for e in engine.logged() if isinstance(e, NoticeSent)]


def test_a_notice_to_a_slow_channel_delays_no_batch_and_its_delivery_is_logged(
    engine: Engine, channel: BlockingChannel
) -> None:
    run = _notified(
        engine.open(project(stakeholders=STAKEHOLDERS), FakeExecutor({PLAYBOOK: {"h1": Outcome.UNREACHABLE}})), channel
    )
    run.start()
    outcome = run.run_batch(run.project.steps[0], run.batches(run.project.steps[0])[0])
    assert outcome.verdict is Verdict.HALTED  # RunHalted recorded: its notice is queued
    assert channel.sending.wait(5)  # the delivery thread is sending it ...
    assert channel.sent == []  # ... and the batch returned all the same, before the send did
    assert _notices(engine) == []
    channel.release.set()
    run.finish(RunEnd.HALTED)  # waits for the queue (RunFinished halted tells nobody: RunHalted did)
    assert channel.sent == ["[itpm] Engine rules under test: run halted at step 's', batch canary"]
    assert _notices(engine) == [("run_halted", True, "")]
    [sent] = [e for e in engine.logged() if isinstance(e, NoticeSent)]
    assert (sent.stakeholder, sent.channel, sent.step, sent.batch) == ("Casey CIO", "file", "s", "s/canary")


def _events(run: ProjectRun) -> list[Event]:
    common: dict[str, Any] = {"run_id": run.run_id, "project": run.project.name, "step": "s"}
    return [
        RunHalted(**common, batch="s/canary", reason="h1 failed", next_steps="fix h1"),
        ApprovalRequested(**common, roles=["change_manager"], requester="dana"),
        RunFinished(**common, status=RunEnd.COMPLETED),
    ]


def test_closing_with_a_stuck_channel_logs_what_was_not_told_and_lets_the_sender_end(
    engine: Engine, channel: BlockingChannel
) -> None:
    run = engine.open(project(stakeholders=STAKEHOLDERS))
    notifier = _notified(run, channel).notifier
    for event in _events(run):
        notifier.observe(event)
    assert channel.sending.wait(5)  # the first notice is being sent, the other two wait
    notifier.close(timeout_s=0.1)
    assert _notices(engine) == [
        ("run_halted", False, "not confirmed: still being sent 0.1 s after the run ended"),
        ("approval_requested", False, "not sent: still queued 0.1 s after the run ended"),
        ("run_finished", False, "not sent: still queued 0.1 s after the run ended"),
    ]
    [sender] = [t for t in threading.enumerate() if t.name == f"notices {run.run_id}"]
    channel.release.set()  # the relay answers at last: the late delivery is logged, and its thread ends
    sender.join(5)
    assert not sender.is_alive()
    assert _notices(engine)[-1] == ("run_halted", True, "")
    assert len(channel.sent) == 1  # the notices given up on were not sent after all


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_dry_run_tells_nobody(dry_run: bool, engine: Engine, channel: BlockingChannel) -> None:
    channel.release.set()
    run = _notified(engine.open(project(stakeholders=STAKEHOLDERS)), channel)
    run.start(dry_run=dry_run)
    run.enter_phase(PhaseName.PLANNING)  # a dry run plans too
    run.finish(RunEnd.DRY_RUN if dry_run else RunEnd.COMPLETED)
    if dry_run:
        assert (channel.sent, _notices(engine)) == ([], [])
    else:  # the same steps of a real run tell the stakeholder
        assert [about for about, _, _ in _notices(engine)] == ["phase_changed", "run_finished"]
        assert len(channel.sent) == 2


@pytest.mark.parametrize("status", list(RunEnd))
def test_every_end_of_a_run_is_a_notice_or_none(status: RunEnd) -> None:
    # An end it does not know raised KeyError, out of the notifier and out of ProjectRun.stop().
    assert notice_for(RunFinished(run_id="r1", project="p", status=status)) in (*Notice, None)


def test_a_run_stopped_with_stakeholders_logs_the_stop_and_lets_go(engine: Engine, channel: BlockingChannel) -> None:
    channel.release.set()
    run = _notified(engine.open(project(stakeholders=STAKEHOLDERS)), channel)
    run.start()
    run.stop("SIGTERM")
    assert [e.status for e in engine.logged() if isinstance(e, RunFinished)] == [RunEnd.INTERRUPTED]
    engine.open(project()).start()  # the lease was let go

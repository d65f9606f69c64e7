"""Batches and verdicts: canary first, sizes by count or share, the max-fail boundary exactly."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from itpm.models.strategy import ChangeWindow, RolloutStrategy, Weekday, count_of
from itpm.rollout import Verdict, judge_batch, plan_batches, still_to_do

HOSTS = [f"h{i}" for i in range(1, 11)]


@pytest.mark.parametrize(
    ("spec", "total", "expected"),
    [(1, 10, 1), (4, 3, 3), ("10%", 10, 1), ("25%", 10, 3), ("30%", 10, 3), ("100%", 7, 7), ("1%", 3, 1)],
)
def test_count_of(spec: int | str, total: int, expected: int) -> None:
    assert count_of(spec, total) == expected


def test_canary_then_batches_by_share() -> None:
    batches = plan_batches("s", HOSTS, RolloutStrategy(canary=1, batch_size="30%"))
    assert [b.name for b in batches] == ["canary", "batch 1", "batch 2", "batch 3"]
    assert [b.hosts for b in batches] == [("h1",), ("h2", "h3", "h4"), ("h5", "h6", "h7"), ("h8", "h9", "h10")]
    assert batches[0].canary and batches[0].label == "s/canary"


def test_no_canary_one_batch() -> None:
    batches = plan_batches("s", HOSTS[:3], RolloutStrategy(canary=None))
    assert [(b.name, b.hosts, b.canary) for b in batches] == [("batch 1", ("h1", "h2", "h3"), False)]


def test_without_a_canary_every_batch_has_a_label_of_its_own() -> None:
    # Issue 14, defect 1: two batches were both labelled "s/batch 1"; the label keys the log, risks and reports.
    batches = plan_batches("s", ["h1", "h2", "h3", "h4"], RolloutStrategy(canary=None, batch_size=2))
    assert [(b.label, b.hosts) for b in batches] == [("s/batch 1", ("h1", "h2")), ("s/batch 2", ("h3", "h4"))]
    labels = [b.label for b in plan_batches("s", HOSTS, RolloutStrategy(canary=None, batch_size=1))]
    assert len(set(labels)) == len(labels) == 10


def test_the_plan_is_the_same_every_time() -> None:
    strategy = RolloutStrategy(canary="10%", batch_size=4)
    assert plan_batches("s", HOSTS, strategy) == plan_batches("s", list(HOSTS), strategy)


def test_max_fail_percent_is_honoured_exactly_at_its_boundary() -> None:
    strategy = RolloutStrategy(canary=None, batch_size=10, max_fail_percent=20)
    (batch,) = plan_batches("s", HOSTS, strategy)
    assert judge_batch(batch, [], strategy) is Verdict.PASSED
    assert judge_batch(batch, ["h1", "h2"], strategy) is Verdict.TOLERATED  # exactly 20%
    assert judge_batch(batch, ["h1", "h2", "h3"], strategy) is Verdict.HALTED  # 30%


def test_the_canary_tolerates_no_failure() -> None:
    strategy = RolloutStrategy(canary=2, max_fail_percent=50)
    canary = plan_batches("s", HOSTS, strategy)[0]
    assert judge_batch(canary, ["h2"], strategy) is Verdict.HALTED


def test_zero_percent_halts_on_any_failure() -> None:
    strategy = RolloutStrategy(canary=None, batch_size=5)
    batch = plan_batches("s", HOSTS, strategy)[0]
    assert judge_batch(batch, ["h5"], strategy) is Verdict.HALTED
    assert judge_batch(batch, ["h9"], strategy) is Verdict.PASSED  # not in this batch


def test_still_to_do_skips_done_hosts() -> None:
    batch = plan_batches("s", HOSTS, RolloutStrategy(canary=None, batch_size=3))[0]
    assert still_to_do(batch, {"h2"}) == ("h1", "h3")


def test_change_window_across_midnight() -> None:
    window = ChangeWindow(days=(Weekday.SAT,), start=time(22), end=time(2), timezone="UTC")
    saturday_late = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)  # a Saturday
    sunday_early = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    sunday_late = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    assert window.contains(saturday_late) and window.contains(sunday_early)
    assert not window.contains(sunday_late)

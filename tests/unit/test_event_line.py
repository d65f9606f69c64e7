"""A project log event as the terminal shows it (itpm run, itpm log, itpm demo): words and numbers, no reprs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from itpm.console import event_line
from itpm.log.events import CostBooked, HostApplied, HostVerified, StepPlanned

COMMON = {"run_id": "r1", "project": "p", "at": datetime(2026, 11, 22, 6, 32, 5, 123456, tzinfo=UTC)}


def test_numbers_keep_three_figures_and_booleans_read_yes_or_no() -> None:
    applied = event_line(
        HostApplied(
            **COMMON, step="s", batch="s/batch 1", host="h2", status="changed", changed_tasks=17, duration_s=24.293345
        )
    )
    assert applied.startswith("2026-11-22 06:32:05 host_applied")
    assert "duration_s=24.3" in applied and "24.29" not in applied
    verified = event_line(HostVerified(**COMMON, step="s", batch="s/batch 1", host="h2", passed=True))
    assert verified.endswith("passed=yes")
    cost = event_line(
        CostBooked(
            **COMMON,
            category="labour",
            amount=Decimal("0.16"),
            currency="EUR",
            hours=0.0016528944444444446,
            note="audit",
        )
    )
    assert "hours=0.00165," in cost and "amount=0.16" in cost


def test_mappings_read_as_key_and_values_not_as_python() -> None:
    planned = event_line(StepPlanned(**COMMON, step="s", changes={"h1": ["Bridge", "Route"], "h2": []}))
    assert planned.endswith("changes=h1: Bridge, Route; h2: none")
    for repr_mark in ("{", "[", "'"):
        assert repr_mark not in planned, planned

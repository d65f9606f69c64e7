"""The readability check the Prefect UI test applies (tests/prefect_ui.py), and every report passing it.

What a project manager reads in the UI is the status report, the host tables, the retrospective and the next steps:
plain words and numbers with units. A Python repr that slips into them is named by the check.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from itpm.reports.markdown_report import render_markdown
from itpm.reports.project_view import ProjectView, project_view
from itpm.reports.retrospective import next_steps_sections, retrospective
from itpm.reports.run_status import host_rows, step_rows
from tests.prefect_ui import RunArtifact, artifact_text, unreadable
from tests.unit.test_project_view import PROJECT, at
from tests.unit.test_reports import ALL_VIEWS, hostile_events


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("owner: None", "None"),
        ("| h1 | None |", "None"),
        ("approved: True", "True"),
        ("state HostStepState.VERIFIED", "HostStepState.VERIFIED"),
        ("<Verdict.PASSED: 'passed'>", "<Verdict.PASSED:"),
        ("spent Decimal('12.50')", "Decimal("),
        ("at datetime.datetime(2026, 11, 26, 10, 0)", "datetime."),
        ("at 2026-11-26T10:00:00.123456+00:00", "2026-11-26T10:00"),
        ("at 2026-11-26 10:00:00.123456", "10:00:00.123456"),
        ("at 2026-11-26 10:00:00+00:00", "10:00:00+00:00"),
        ("took 12.3456789012 s", "12.3456789012"),
        ("hosts ['h1', 'h2']", "['"),
        ("changes {'h1': 2}", "{'"),
        ("run UUID('5d1c2f0e-0000-0000-0000-000000000000')", "UUID("),
        ("file PosixPath('/etc/hosts')", "PosixPath("),
        ("<itpm.rollout.Batch object at 0x7f2a11009ad0>", "object at 0x7f2a11009ad0"),
        ("failed: ValueError('bad')", "ValueError("),
        ("hosts: []", "[]"),
        (r"line one\nline two", r"\n"),
    ],
)
def test_a_repr_is_found_and_named(text: str, named: str) -> None:
    found = unreadable(text)
    assert found and named in found[0], found


@pytest.mark.parametrize(
    "text",
    [
        "5 of 10 host-steps verified (50%).",
        "EUR 1,240.50 spent of EUR 2,000.00 planned (62%); team time: engineer 90 min.",
        "Started 2026-11-26 10:00 UTC, ended 2026-11-26 10:30 UTC; took 30 min.",
        "None of the project's risks materialized.",
        "- None needs attention",
        "h3: ssh: connect to host 10.77.0.4 port 22: Connection refused",
        "Throughput: 950.8 host-steps verified per hour; 99.9% done.",
        "/etc/itpm-marker holds 'bad', expected 'ok'",
    ],
)
def test_plain_words_pass(text: str) -> None:
    assert unreadable(text) == []


def _table(rows: list[dict[str, str]]) -> str:
    return artifact_text(RunArtifact("a", "k", "table", "", json.dumps(rows), ""))


@pytest.mark.parametrize("make", ALL_VIEWS, ids=lambda make: make.__name__)
def test_every_artifact_a_run_shows_reads_as_plain_words(make: Callable[[], ProjectView]) -> None:
    view = make()
    status = view.status
    texts = {"status report": render_markdown(view), "hosts": _table(host_rows(status))}
    texts |= {f"step {step}": _table(step_rows(status, step)) for step in status.steps}
    assert {where: found for where, text in texts.items() if (found := unreadable(text))} == {}


def test_the_retrospective_and_next_steps_of_a_halted_run_read_as_plain_words() -> None:
    events = hostile_events()
    view = project_view(PROJECT, events, as_of=at(75))
    text = render_markdown(view, (*retrospective(view, events), *next_steps_sections(view, events)))
    assert "## What failed and why" in text and "Team time: engineer 60 min." in text
    assert unreadable(text) == []

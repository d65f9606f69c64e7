"""Costs, risks and notes people add to a run's record, and `itpm status` showing them (a log without a lab)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from itpm.bookkeeping import BookkeepingError, add_note, book_cost, close_risk, raise_risk
from itpm.log.events import CostBooked, NoteAdded, RunStarted
from itpm.log.store import ProjectLog
from itpm.run_record import RunNotFound, find_run, view_of
from tests.unit.test_cli import REPO, itpm

RUN = "baseline-rollout-r1"


@pytest.fixture
def log(tmp_path: Path) -> ProjectLog:
    log = ProjectLog(f"sqlite:///{tmp_path / 'project-log.sqlite'}")
    log.append(
        RunStarted(
            run_id=RUN,
            project="baseline-rollout",
            project_file=str(REPO / "projects" / "baseline-rollout.yaml"),
            title="Baseline hardening of the lab fleet",
            project_kind="compliance",
            environment="lab",
            requester="dana",
            hosts=["h1", "h2"],
            steps=["baseline"],
        )
    )
    return log


def test_hours_are_booked_at_the_rate_of_the_bookers_role(log: ProjectLog) -> None:
    cab = book_cost(log, RUN, by="chris", hours=1.5, note="CAB meeting")
    assert (cab.category, cab.role, cab.amount, cab.automatic) == ("labour", "change_manager", Decimal("180.00"), False)
    assert book_cost(log, RUN, by="chris", role="engineer", hours=2, note="pairing").amount == Decimal("190.00")
    assert book_cost(log, RUN, by="dana", amount=Decimal("250.5"), note="spare disk").amount == Decimal("250.50")
    budget = view_of(log, RUN).budget
    assert budget is not None
    assert budget.spent == Decimal("620.50")
    assert budget.hours_by_role == {"change_manager": 1.5, "engineer": 2.0}
    assert [e.note for e in log.events(RUN, kinds=["cost_booked"]) if isinstance(e, CostBooked)] == [
        "CAB meeting",
        "pairing",
        "spare disk",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "mallory", "hours": 1.0}, "no rate for role (none: mallory is not on the team)"),
        ({"by": "dana", "hours": 1.0, "role": "cio"}, "no rate for role cio"),
        ({"by": "dana"}, "book either --hours (team time) or --amount"),
        ({"by": "dana", "hours": 1.0, "amount": Decimal(1)}, "book either --hours (team time) or --amount"),
        ({"by": "dana", "hours": 0.0}, "0.0 hours: must be more than 0"),
        ({"by": "dana", "amount": Decimal(-5)}, "amount -5 is negative"),
    ],
)
def test_bookings_that_do_not_fit_the_budget_are_refused(
    log: ProjectLog, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(BookkeepingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        book_cost(log, RUN, note="x", **kwargs)  # type: ignore[arg-type]
    assert not log.events(RUN, kinds=["cost_booked"])


def test_risks_are_raised_from_the_project_file_or_new_and_closed_once(log: ProjectLog) -> None:
    raised = raise_risk(log, RUN, "R1", by="dana", materialized=True, note="h2 lost SSH")
    assert (raised.title, raised.impact, raised.owner) == (
        "sshd hardening locks out automation",
        "high",
        "Dana Engineer",
    )
    raise_risk(log, RUN, "R9", by="chris", title="Vendor ships late", likelihood="high", impact="medium")
    assert [(r.id, r.materialized) for r in view_of(log, RUN).open_risks] == [("R1", True), ("R9", False)]
    close_risk(log, RUN, "R1", by="dana", note="lockout fixed")
    with pytest.raises(BookkeepingError, match="risk R1 is not open in run"):
        close_risk(log, RUN, "R1", by="dana")
    with pytest.raises(BookkeepingError, match="risk R7 is not in project baseline-rollout's file"):
        raise_risk(log, RUN, "R7", by="dana")
    assert [r.id for r in view_of(log, RUN).open_risks] == ["R9"]


def test_notes_and_finding_runs(log: ProjectLog) -> None:
    add_note(log, RUN, author="chris", text="Vendor call: firmware fix due Friday")
    assert [e.text for e in log.events(RUN, kinds=["note_added"]) if isinstance(e, NoteAdded)] == [
        "Vendor call: firmware fix due Friday"
    ]
    with pytest.raises(BookkeepingError, match="the note is empty"):
        add_note(log, RUN, author="chris", text="  ")
    assert find_run(log, None) == find_run(log, "baseline-rollout") == find_run(log, RUN) == RUN
    assert find_run(log, "projects/baseline-rollout.yaml") == RUN
    with pytest.raises(RunNotFound, match="'nope' is neither a run id nor a project"):
        find_run(log, "nope")


def test_status_and_book_at_the_command_line(log: ProjectLog, tmp_path: Path) -> None:
    booked = itpm("book", RUN, "--hours", "1.5", "--note", "CAB", "--as", "chris", state=tmp_path)
    assert booked.returncode == 0, booked.stderr
    assert "booked EUR 180.00 (labour)" in booked.stdout
    shown = itpm("status", "baseline-rollout", state=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "0 of 2 host-steps verified (0%)" in shown.stdout
    assert "EUR 180.00 (4.5%)" in shown.stdout
    assert "Every host baselined" in shown.stdout
    head = log.chain_head(RUN)  # the start and the booking, chained: what an auditor notes
    assert head is not None and head.chained == 2
    assert f"Log chain: head {head.short} after 2 events (itpm log verify {RUN} --head {head.short})" in shown.stdout
    bad = itpm("book", RUN, "--amount", "lots", "--note", "x", state=tmp_path)
    assert (bad.returncode, "Traceback" in bad.stderr) == (2, False)
    assert "--amount 'lots' is not a number" in bad.stderr
    unknown = itpm("status", "nope", state=tmp_path)
    assert unknown.returncode == 2
    assert "'nope' is neither a run id nor a project" in unknown.stderr


def test_report_at_the_command_line_writes_html_and_markdown(log: ProjectLog, tmp_path: Path) -> None:
    made = itpm("report", RUN, "--out", str(tmp_path / "out"), state=tmp_path)
    assert made.returncode == 0, made.stderr
    html, markdown = (Path(line) for line in made.stdout.split())
    assert html.parent == markdown.parent == tmp_path / "out"
    head = log.chain_head(RUN)
    assert head is not None
    fact = f"head `{head.short}` after 1 event; `itpm log verify {RUN} --head {head.short}` checks it"
    assert f"- **Log chain**: {fact}" in markdown.read_text()
    assert f"<dt>Log chain</dt><dd>head <code>{head.short}</code> after 1 event;" in html.read_text()
    assert 'id="timeline-chart"' in html.read_text()
    assert "# Baseline hardening of the lab fleet" in markdown.read_text()
    assert "Recommendations, highest impact first" in markdown.read_text()

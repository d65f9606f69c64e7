"""A run's full report, made in one place for the project flow and ``itpm report`` (itpm/reports/run_report.py).

A compliance project audited before (h2 failing root login by password) and after (all passing): its report
carries the compliance part first, then the retrospective and the next steps, in both files.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from itpm.inventory import Inventory, InventoryHost
from itpm.log.events import Event, RunFinished, RunStarted, StepAudited
from itpm.models.failures import FailureKind, HostFailure
from itpm.models.project import Project
from itpm.project_file import load_project
from itpm.reports.html_report import render_html
from itpm.reports.markdown_report import render_markdown
from itpm.reports.project_view import ProjectView, project_view
from itpm.reports.retrospective import next_steps_sections, retrospective
from itpm.reports.run_report import run_report
from itpm.standard_file import load_standard
from tests.unit.test_project_view import PROJECT as PLAIN_PROJECT
from tests.unit.test_project_view import first_half

REPO = Path(__file__).resolve().parents[2]
HOSTS = ("h1", "h2")
INVENTORY = Inventory(
    path=Path("/x/hosts.yml"),
    hosts={h: InventoryHost(name=h, address=f"10.0.0.{i}", groups=("web",)) for i, h in enumerate(HOSTS, 2)},
    groups={"all": HOSTS, "web": HOSTS},
)
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 26)
COMMON: dict[str, Any] = {"run_id": "compliance-audit-r1", "project": "compliance-audit"}
ROOT_BY_PASSWORD = HostFailure(
    kind=FailureKind.CHECK_FAILED, host="h2", check="test_ssh_root_login_keys_only", message="PermitRootLogin yes"
)


def audited_run() -> tuple[Project, ProjectView, list[Event]]:
    project = load_project(REPO / "projects" / "compliance-audit.yaml")
    assert project.compliance is not None
    checks = sorted({c for control in load_standard(project.compliance.standard).controls for c in control.checks})
    step = project.steps[0].name
    events: list[Event] = [
        RunStarted(
            **COMMON,
            at=T0,
            project_file=str(REPO / "projects" / "compliance-audit.yaml"),
            title=project.title,
            project_kind="compliance",
            environment="lab",
            requester="dana",
            hosts=list(HOSTS),
            steps=[s.name for s in project.steps],
        ),
        StepAudited(
            **COMMON,
            at=T0 + timedelta(minutes=1),
            step=step,
            stage="before",
            checks=checks,
            passed=["h1"],
            failed={"h2": [ROOT_BY_PASSWORD]},
        ),
        StepAudited(
            **COMMON,
            at=T0 + timedelta(minutes=9),
            step=step,
            stage="after",
            checks=checks,
            passed=list(HOSTS),
            failed={},
        ),
        RunFinished(**COMMON, at=T0 + timedelta(minutes=10), status="completed"),
    ]
    return project, project_view(project, events, as_of=T0 + timedelta(minutes=20)), events


def test_a_compliance_run_reports_compliance_first_then_retrospective_and_next_steps(tmp_path: Path) -> None:
    _, view, events = audited_run()
    report = run_report(view, events, INVENTORY, TODAY)
    assert [s.title for s in report.compliance] == [
        "Compliance",
        "Compliance findings (after the change), with evidence",
    ]
    assert "compliant, 1 failing. After: 100% compliant, 0 failing" in report.compliance[0].paragraphs[1]
    assert report.retrospective == retrospective(view, events)
    assert report.next_steps == next_steps_sections(view, events)
    assert report.sections == (*report.compliance, *report.retrospective, *report.next_steps)

    files = report.write(tmp_path / "reports")
    assert (files.html.name, files.markdown.name) == ("compliance-audit-r1.html", "compliance-audit-r1.md")
    assert files.html.read_text() == render_html(view, report.sections)
    markdown = files.markdown.read_text()
    assert markdown == render_markdown(view, report.sections)
    assert markdown.index("\n## Compliance\n") < markdown.index("\n## Time: planned vs actual\n")
    assert "\n## Recommendations, highest impact first\n" in markdown


def test_without_an_inventory_the_report_leaves_only_the_compliance_part_out() -> None:
    _, view, events = audited_run()
    report = run_report(view, events, None, TODAY)
    assert report.compliance == ()
    assert report.sections == (*retrospective(view, events), *next_steps_sections(view, events))


def test_a_project_without_a_standard_has_no_compliance_part() -> None:
    events = first_half()
    view = project_view(PLAIN_PROJECT, events, as_of=T0 + timedelta(minutes=60))
    assert run_report(view, events, INVENTORY, TODAY).compliance == ()

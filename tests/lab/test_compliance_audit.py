"""The compliance project on a lab of its own: controls failing before, passing after, one waived, one lapsed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from itpm.execution.runner import run_playbook
from itpm.models.project import Project, Waiver
from itpm.project_file import load_project
from itpm.reports.compliance_report import project_compliance
from itpm.standard_file import load_standard

from .conftest import REPO, own_lab
from .it_projects import Site

HOSTS = ["h1", "h2", "h3"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, prefect_api: dict[str, str]) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("compliance")
    with own_lab(base, "c", len(HOSTS)) as lab:
        yield Site(lab, base, prefect_api)


def _rows(project: Project, site: Site, run_id: str, today: date) -> list[dict[str, str]]:
    sections = project_compliance(project, site.log.events(run_id), site.lab.inventory, today)
    return [dict(row) for row in sections[0].table]


def test_remediation_fixes_failing_controls_and_reports_waivers(site: Site) -> None:
    project_file = site.copy("projects/compliance-audit.yaml")
    done = site.itpm("run", str(project_file), "--as", "dana")
    assert done.returncode == 0, done.stdout + done.stderr
    (run_id,) = site.log.run_ids()
    project = load_project(project_file)
    standard = load_standard(REPO / "standards" / "lab-baseline.yaml")

    rows = {row["control"]: row for row in _rows(project, site, run_id, date(2026, 11, 22))}
    assert len(rows) == len(standard.controls) >= 15
    failing_before = [c for c, row in rows.items() if "failed" in row["before"]]
    assert len(failing_before) >= 8, rows
    for control, row in rows.items():
        if control == "SUDO-01":
            assert row["after"] == f"{len(HOSTS)} waived", row
        else:
            assert row["after"] == f"{len(HOSTS)} passed", row

    # The same run judged once the waiver has lapsed: the control is a finding again, not quietly waived.
    lapsed = _rows(project, site, run_id, date(2027, 7, 1))
    sudo = next(row for row in lapsed if row["control"] == "SUDO-01")
    assert sudo["after"] == f"{len(HOSTS)} waiver expired"

    # Idempotence: remediating again (same controls and waivers) changes nothing.
    waived: dict[str, Any] = {h: ["SUDO-01"] for h in HOSTS}
    again = run_playbook(
        REPO / "playbooks" / "compliance.yml",
        site.lab.inventory,
        site.lab.settings,
        extravars={"itpm_compliance_controls": standard.remediation_vars(), "itpm_compliance_waived": waived},
    )
    assert again.succeeded and not again.changed, again.changed


def test_a_waiver_for_a_control_the_standard_lacks_is_refused(site: Site) -> None:
    def bad_waiver(document: dict[str, Any]) -> None:
        waiver = Waiver(control="NOPE-99", hosts=("all",), owner="x", reason="y", expires=date(2027, 1, 1))
        document["compliance"]["waivers"].append(waiver.model_dump(mode="json"))

    done = site.itpm("validate", str(site.copy("projects/compliance-audit.yaml", bad_waiver)))
    assert done.returncode == 2 and "NOPE-99" in done.stderr and "Traceback" not in done.stderr

"""Runbook files: the shipped ones validate; a step that cannot run is named with its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from itpm.errors import RunbookFileError
from itpm.recovery import load_runbook, runbook_path

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((REPO / "runbooks").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_runbooks_validate(path: Path) -> None:
    runbook = load_runbook(path)
    assert any(s.in_drill for s in runbook.steps) and all(s.on_failure for s in runbook.steps)


def test_a_runbook_is_found_by_name() -> None:
    assert runbook_path("db-primary", REPO) == REPO / "runbooks" / "db-primary.yaml"


def test_a_playbook_step_without_playbook_is_refused(tmp_path: Path) -> None:
    (tmp_path / "playbooks").mkdir()
    path = tmp_path / "r.yaml"
    text = (REPO / "runbooks" / "db-primary.yaml").read_text().replace("playbook: playbooks/ledger-restore.yml", "")
    path.write_text(
        text.replace("checks/", str(REPO / "checks") + "/").replace("playbooks/", str(REPO / "playbooks") + "/")
    )
    with pytest.raises(RunbookFileError, match="applies a playbook: give playbook"):
        load_runbook(path)

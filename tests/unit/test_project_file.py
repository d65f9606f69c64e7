"""Project files: the shipped ones validate; every kind of mistake is named with its field path and fix; read once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from itpm.errors import ProjectFileError
from itpm.project_file import load_project, project_schema
from itpm.yaml_file import read_yaml

REPO = Path(__file__).resolve().parents[2]
BASELINE = REPO / "projects" / "baseline-rollout.yaml"


def _variant(tmp_path: Path, change: Any) -> Path:
    """Write a changed copy of the baseline project inside a repo-like tree (playbooks/ beside it)."""
    data = yaml.safe_load(BASELINE.read_text())
    change(data)
    (tmp_path / "playbooks").symlink_to(REPO / "playbooks")
    (tmp_path / "checks").symlink_to(REPO / "checks")
    (tmp_path / "inventory").symlink_to(REPO / "inventory")
    (tmp_path / "projects").mkdir()
    path = tmp_path / "projects" / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("path", sorted((REPO / "projects").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_projects_validate(path: Path) -> None:
    assert load_project(path).steps


def test_paths_resolve_against_the_repository_root() -> None:
    project = load_project(BASELINE)
    assert project.steps[0].playbook == REPO / "playbooks" / "baseline.yml"
    assert project.scope.inventory == REPO / "inventory" / "lab" / "hosts.yml"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["steps"][0]["strategy"].update(canary=0), "steps[0].strategy.canary: 0 hosts: must be >= 1"),
        (lambda d: d["steps"][0]["strategy"].update(batch_size="0%"), "steps[0].strategy.batch_size: '0%'"),
        (lambda d: d["steps"][0]["strategy"].update(max_fail_pecent=5), "steps[0].strategy.max_fail_pecent: Extra"),
        (lambda d: d["steps"][0]["strategy"].update(max_fail_percent=150), "max_fail_percent: Input should be less"),
        (lambda d: d.update(kind="migration"), "kind: Input should be 'hardware_install'"),
        (lambda d: d["budget"].update(currency="euro"), "budget.currency: String should match pattern"),
        (lambda d: d["milestones"][0].update(due="next week"), "milestones[0].due: Input should be a valid date"),
        (
            lambda d: d["steps"][0].update(playbook="playbooks/nope.yml"),
            "steps[0].playbook: playbooks/nope.yml does not",
        ),
        (lambda d: d["steps"].append(dict(d["steps"][0])), "step names must be unique: baseline"),
        (lambda d: d.update(steps=[]), "steps: Tuple should have at least 1 item"),
        (lambda d: d.update(vars={"itpm_run_id": "x"}), "names starting with itpm_ are set by itpm itself"),
        (lambda d: d["steps"][0].update(vars={"1st": 1}), "variable '1st': use letters, digits and underscores"),
        (lambda d: d.pop("scope"), "scope: Field required (add it)"),
        (lambda d: d["steps"][0]["strategy"]["approval"].update(roles=["auditor"]), "needs approval from role auditor"),
        (
            lambda d: d["steps"][0]["strategy"].update(
                change_window={"start": "22:00", "end": "02:00", "timezone": "Mars/Base"}
            ),
            "unknown time zone 'Mars/Base'",
        ),
    ],
)
def test_mistakes_name_field_path_and_fix(tmp_path: Path, change: Any, expected: str) -> None:
    with pytest.raises(ProjectFileError) as raised:
        load_project(_variant(tmp_path, change))
    assert expected in str(raised.value)
    assert raised.value.exit_code == 2 and "p.yaml" in raised.value.message


def test_one_error_lists_every_problem(tmp_path: Path) -> None:
    def many(d: dict[str, Any]) -> None:
        d["kind"] = "x"
        d["steps"][0]["strategy"]["canary"] = -1

    with pytest.raises(ProjectFileError, match=r"2 problem\(s\)"):
        load_project(_variant(tmp_path, many))


def test_broken_yaml_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "b.yaml"
    broken.write_text("name: [x\n")
    with pytest.raises(ProjectFileError, match="not valid YAML at line"):
        load_project(broken)
    with pytest.raises(ProjectFileError, match="does not exist"):
        load_project(tmp_path / "missing.yaml")


def test_schema_is_json_schema_with_the_strategy() -> None:
    schema = project_schema()
    assert schema["title"] == "itpm project file" and "RolloutStrategy" in schema["$defs"]
    assert schema["$defs"]["RolloutStrategy"]["additionalProperties"] is False


def _repo_copy(tmp_path: Path) -> Path:
    """Return a repository-like tree whose playbooks, checks and standards each link to the real file."""
    for folder in ("playbooks", "checks", "standards"):
        (tmp_path / folder).mkdir()
        for entry in (REPO / folder).iterdir():
            (tmp_path / folder / entry.name).symlink_to(entry)
    (tmp_path / "projects").mkdir()
    return tmp_path


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Collect the YAML files project_file reads (project files and standards alike)."""
    seen: list[Path] = []

    def counting(path: Path, *args: Any) -> Any:
        seen.append(path)
        return read_yaml(path, *args)

    monkeypatch.setattr("itpm.project_file.read_yaml", counting)
    return seen


def test_an_unchanged_project_is_read_once_per_process(tmp_path: Path, reads: list[Path]) -> None:
    path = _repo_copy(tmp_path) / "projects" / "p.yaml"
    path.write_text(BASELINE.read_text())
    first = load_project(path)
    first.vars["changed_by_one_caller"] = 1
    again = load_project(path)
    assert reads == [path]
    assert "changed_by_one_caller" not in again.vars  # each caller has its own copy
    path.write_text(BASELINE.read_text().replace("title:", "title: Renamed", 1))
    assert load_project(path).title.startswith("Renamed")
    assert reads == [path, path]


def test_a_playbook_removed_after_a_load_is_an_error_of_the_next(tmp_path: Path, reads: list[Path]) -> None:
    path = _repo_copy(tmp_path) / "projects" / "p.yaml"
    path.write_text(BASELINE.read_text())
    load_project(path)
    (tmp_path / "playbooks" / "baseline.yml").unlink()
    with pytest.raises(ProjectFileError, match=r"playbooks/baseline\.yml does not exist"):
        load_project(path)


def test_a_changed_standard_is_read_again(tmp_path: Path, reads: list[Path]) -> None:
    root = _repo_copy(tmp_path)
    path = root / "projects" / "c.yaml"
    path.write_text((REPO / "projects" / "compliance-audit.yaml").read_text())
    standard = root / "standards" / "lab-baseline.yaml"
    text = standard.read_text()
    standard.unlink()
    standard.write_text(text)  # a file of its own, not the link to the shipped one
    load_project(path)
    load_project(path)
    assert reads == [path, standard]
    standard.write_text(text.replace("SUDO-01", "SUDO-99"))
    with pytest.raises(ProjectFileError, match="name control SUDO-01, which standard lab-baseline lacks"):
        load_project(path)

"""Reading project files: YAML in, a validated ``Project`` out, or one error listing every problem with its fix.

>>> load_project(Path("projects/baseline-rollout.yaml")).steps[0].name  # doctest: +SKIP
'baseline'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from itpm.errors import ProjectFileError
from itpm.models.project import Project
from itpm.yaml_file import read_yaml

__all__ = ["find_repo_root", "format_validation_errors", "load_project", "project_schema"]

# What to do about each kind of pydantic error, in words a project manager can act on.
_FIXES = {
    "extra_forbidden": "remove it, or check its spelling against `itpm schema`",
    "missing": "add it",
    "enum": "use one of the values listed",
    "literal_error": "use one of the values listed",
    "string_pattern_mismatch": "match the format shown",
    "date_from_datetime_parsing": "write dates as YYYY-MM-DD",
    "date_parsing": "write dates as YYYY-MM-DD",
    "time_parsing": "write times as HH:MM",
    "too_short": "give at least one",
}


_UNION_BRANCHES = {"int", "str", "float", "bool", "date", "time", "none"}


def find_repo_root(path: Path) -> Path:
    """Return the nearest directory above ``path`` that has a ``playbooks/`` directory (paths are relative to it)."""
    for directory in path.resolve().parents:
        if (directory / "playbooks").is_dir():
            return directory
    raise ProjectFileError(
        f"{path}: no playbooks/ directory above it, so its paths cannot be resolved",
        fix="keep project files in the repository, e.g. under projects/",
    )


def load_project(path: Path) -> Project:
    """Read and validate a project file; raise ProjectFileError naming file, field path and fix for each problem."""
    if not path.is_file():
        raise ProjectFileError(f"project file {path} does not exist", fix="give a path like projects/<name>.yaml")
    data = read_yaml(path, ProjectFileError, "project file")
    if not isinstance(data, dict):
        raise ProjectFileError(
            f"{path}: a project file is a mapping of keys (name, kind, steps, ...)",
            fix="start from projects/baseline-rollout.yaml",
        )
    try:
        return Project.model_validate(data, context={"root": find_repo_root(path)})
    except ValidationError as error:
        problems = format_validation_errors(error)
        raise ProjectFileError(
            f"{path}: {len(problems.splitlines())} problem(s)\n" + problems,
            fix="correct each field named above (`itpm schema` prints every field and its allowed values)",
        ) from None


def format_validation_errors(error: ValidationError) -> str:
    """Return one line per problem: ``  steps[0].strategy.canary: 0 hosts: must be >= 1 ... (fix: ...)``."""
    lines = []
    problems = error.errors(include_url=False)
    for problem in problems:
        deeper = [
            p
            for p in problems
            if len(p["loc"]) > len(problem["loc"]) and p["loc"][: len(problem["loc"])] == problem["loc"]
        ]
        if problem["type"] == "too_short" and deeper:
            continue  # "steps must not be empty" only because the one step inside was invalid: noise
        location = _location(problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        fix = _FIXES.get(problem["type"], "")
        lines.append(f"  {location or '(file)'}: {message}" + (f" ({fix})" if fix else ""))
    return "\n".join(lines)


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in _UNION_BRANCHES or "[" in part:  # pydantic names the union branch it tried: not a field
            continue
        else:
            text += f".{part}" if text else part
    return text


def project_schema() -> dict[str, Any]:
    """Return the JSON Schema of project files, for editors (``itpm schema > project.schema.json``)."""
    schema: dict[str, Any] = Project.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "itpm project file"
    return schema

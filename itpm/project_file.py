"""Reading project files: YAML in, a validated ``Project`` out, or one error listing every problem with its fix.

>>> load_project(Path("projects/baseline-rollout.yaml")).steps[0].name  # doctest: +SKIP
'baseline'
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError

from itpm.errors import InputError, ProjectFileError
from itpm.file_memo import FileMemo, Seen
from itpm.models.project import Project
from itpm.yaml_file import read_yaml

__all__ = ["find_repo_root", "format_validation_errors", "load_model_file", "load_project", "project_schema"]

M = TypeVar("M", bound=BaseModel)

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
    "path_type": "give a path as text, like playbooks/site.yml",
}
# pydantic names the Python class it wanted in a few messages ("... for <class 'pathlib.Path'>"): noise here.
_PYTHON_CLASS = re.compile(r" (?:for|of) <class '[^']*'>")


_UNION_BRANCHES = {"int", "str", "float", "bool", "date", "time", "none", "list", "dict"}


def find_repo_root(path: Path) -> Path:
    """Return the nearest directory above ``path`` that has a ``playbooks/`` directory (paths are relative to it)."""
    for directory in path.resolve().parents:
        if (directory / "playbooks").is_dir():
            return directory
    raise ProjectFileError(
        f"{path}: no playbooks/ directory above it, so its paths cannot be resolved",
        fix="keep project files in the repository, e.g. under projects/",
    )


# Each caller gets its own deep copy: the models are frozen, their dicts (vars, rates) are not.
_LOADED: FileMemo[BaseModel] = FileMemo(copy=lambda model: model.model_copy(deep=True))


def load_model_file(path: Path, model: type[M], error: type[InputError], what: str, example: str) -> M:
    """Read and validate a YAML file people write as ``model``; raise ``error`` naming the file, field and fix.

    ``what`` names the kind of file in messages ("project file"), ``example`` a shipped file to start from.
    Paths inside the file resolve against the repository root above it.

    Read once per process while unchanged: a repeated load answers from memory until the file changes, or a path
    it names appears or disappears (a missing playbook is an error of the file), or the repository root moves.
    """
    try:
        key = (path.resolve(), model)
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte: the reading says what is wrong
        return _validate_model_file(path, model, error, what, example)
    loaded = _LOADED.get(key, lambda: _read_model_file(path, model, error, what, example))
    return cast(M, loaded)  # the key holds the model class: the value is one


def _read_model_file(path: Path, model: type[M], error: type[InputError], what: str, example: str) -> tuple[M, Seen]:
    """Return the validated file and how it and what its validation looked at were, before it was read."""
    seen = Seen.of([path])
    value = _validate_model_file(path, model, error, what, example)
    root = find_repo_root(path)
    # Taken after validating (only then are the paths known); a path removed in between is missed until the file
    # or another named path changes, and the run then fails where it uses it.
    markers = [d / "playbooks" for d in path.resolve().parents if d.is_relative_to(root)]
    return value, seen + Seen.of(presence=[*markers, *_named_paths(value)])


def _named_paths(value: object) -> Iterator[Path]:
    """Yield every path in a validated model: ``playbooks/baseline.yml``, ``checks/baseline``, ..."""
    if isinstance(value, Path):
        yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _named_paths(getattr(value, name))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _named_paths(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _named_paths(item)


def _validate_model_file(path: Path, model: type[M], error: type[InputError], what: str, example: str) -> M:
    if not path.is_file():
        raise error(f"{what} {path} does not exist", fix=f"give a path like {example}")
    data = read_yaml(path, error, what)
    if data is None:
        raise error(f"{what} {path} is empty", fix=f"start from {example}")
    if not isinstance(data, dict):
        raise error(f"{path}: a {what} is a mapping of keys, not a {_yaml_kind(data)}", fix=f"start from {example}")
    odd_key = _key_not_text(data, "")
    if odd_key is not None:
        where, key = odd_key
        hint = " (YAML reads an unquoted yes, no, on or off as true or false)" if isinstance(key, bool) else ""
        raise error(
            f"{path}: key {_yaml_spelling(key)} {where}is not text{hint}",
            fix="put the key in quotes, like 'on': or '2026':",
        )
    try:
        return model.model_validate(data, context={"root": find_repo_root(path)})
    except ValidationError as problem:
        problems = format_validation_errors(problem)
        raise error(
            f"{path}: {len(problems.splitlines())} problem(s)\n" + problems,
            fix="correct each field named above (`itpm schema` prints every field and its allowed values)",
        ) from None


def load_project(path: Path) -> Project:
    """Read and validate a project file; raise ProjectFileError naming file, field path and fix for each problem.

    A compliance project's standard is read too, so that a waiver of a control the standard lacks is refused now.
    """
    project = load_model_file(path, Project, ProjectFileError, "project file", "projects/baseline-rollout.yaml")
    if project.compliance is not None:
        # Imported here: the standard's reader builds on this module.
        from itpm.standard_file import load_standard  # noqa: PLC0415

        standard = load_standard(project.compliance.standard)
        known = {c.id for c in standard.controls}
        unknown = sorted({w.control for w in project.compliance.waivers} - known)
        if unknown:
            raise ProjectFileError(
                f"{path}: compliance.waivers name control {', '.join(unknown)}, which standard {standard.id} lacks",
                fix=f"use a control id of {project.compliance.standard}",
            )
    return project


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
        message = _PYTHON_CLASS.sub("", str(problem["msg"]).removeprefix("Value error, "))
        fix = _FIXES.get(problem["type"], "")
        lines.append(f"  {location or '(file)'}: {message}" + (f" ({fix})" if fix else ""))
    return "\n".join(lines)


def _key_not_text(data: object, where: str) -> tuple[str, object] | None:
    """Return the first mapping key in ``data`` that YAML read as something else than text, and where it is.

    pydantic would name it by its Python repr (``datetime.date(2026, 1, 1)``); YAML's own spelling is clearer.
    """
    if isinstance(data, dict):
        for key, value in data.items():
            if not isinstance(key, str):
                return (f"in {where} " if where else "", key)
            found = _key_not_text(value, f"{where}.{key}" if where else key)
            if found is not None:
                return found
    elif isinstance(data, list):
        for index, item in enumerate(data):
            found = _key_not_text(item, f"{where}[{index}]")
            if found is not None:
                return found
    return None


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in _UNION_BRANCHES or "[" in part:  # pydantic names the union branch it tried: not a field
            continue
        else:
            shown = part if part.isprintable() and " " not in part else repr(part)  # a key someone typed oddly
            text += f".{shown}" if text else shown
    return text


def _yaml_spelling(value: object) -> str:
    """Return ``value`` as YAML writes it: ``'true'``, ``'null'``, ``'2026-01-01'``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _yaml_kind(data: object) -> str:
    """Return what a YAML document is in YAML's words: ``'list'``, ``'text'``, ``'number'``."""
    if isinstance(data, list):
        return "list"
    if isinstance(data, bool):
        return "true/false value"
    if isinstance(data, int | float):
        return "number"
    return "text" if isinstance(data, str) else "single value"


def project_schema() -> dict[str, Any]:
    """Return the JSON Schema of project files, for editors (``itpm schema > project.schema.json``)."""
    schema: dict[str, Any] = Project.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "itpm project file"
    return schema

"""Reading YAML files that people write (project files, inventories): errors point at line and column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from itpm.errors import InputError

__all__ = ["read_yaml"]


def read_yaml(path: Path, error: type[InputError], what: str) -> Any:  # noqa: ANN401 - YAML is any shape
    """Return the parsed contents of ``path``; raise ``error`` saying where the syntax breaks.

    ``what`` names the file's role in the message: ``inventory /x/hosts.yml is not valid YAML at line 3, ...``.
    """
    try:
        return yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as problem:
        mark = problem.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "an unknown position"
        raise error(
            f"{what} {path} is not valid YAML at {where}: {problem.problem or problem}",
            fix="fix the YAML syntax there (indentation, an unclosed bracket or quote)",
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError) as problem:
        raise error(f"{what} {path} is not valid YAML: {problem}", fix="fix the YAML syntax") from None

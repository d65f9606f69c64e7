"""Paths in the files a person writes, resolved against the repository root and kept inside it.

The root is the validation context's ``root``: ``Project.model_validate(data, context={"root": root})``
(``itpm.project_file`` finds it). Without a root a path is taken as written.

>>> TypeAdapter(RepoPath).validate_python("playbooks/site.yml", context={"root": Path("/repo")})  # doctest: +SKIP
PosixPath('/repo/playbooks/site.yml')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ValidationInfo

__all__ = ["GeneratedPath", "RepoPath"]


def _inside_root(value: Path, info: ValidationInfo) -> Path:
    """Return ``value`` resolved against the repository root in the validation context (as given without one).

    A relative path must stay inside the repository: ``../../etc/passwd`` is refused, so a file copied from
    elsewhere cannot reach out of the checkout by accident or on purpose. An absolute path is taken as written.
    """
    root = (info.context or {}).get("root")
    if value.is_absolute() or root is None:
        return value
    # normpath, not resolve(): `..` is judged as written; a symlink the repository itself holds is its business.
    path = Path(os.path.normpath(Path(root) / value))
    if not path.is_relative_to(root):
        raise ValueError(f"{value} leads outside the repository {root}: give a path inside it")
    return path


def _repo_path(value: Path, info: ValidationInfo) -> Path:
    """Resolve a path of the project file against the repository root given in the validation context."""
    root = (info.context or {}).get("root")
    path = _inside_root(value, info)
    try:
        exists = path.exists()
    except OSError as problem:  # a name too long for the file system
        raise ValueError(f"{str(value)[:80]!r} is not a usable path ({problem.strerror})") from None
    except ValueError as problem:  # a NUL byte
        raise ValueError(f"{str(value)[:80]!r} is not a usable path ({problem})") from None
    if root is not None and not exists:
        raise ValueError(f"{value} does not exist under {root}: give a path relative to the repository root")
    return path


RepoPath = Annotated[Path, AfterValidator(_repo_path)]


def _repo_path_maybe_generated(value: Path, info: ValidationInfo) -> Path:
    """Resolve like ``RepoPath`` without requiring the file: an inventory may be generated (itpm lab up) later."""
    return _inside_root(value, info)


GeneratedPath = Annotated[Path, AfterValidator(_repo_path_maybe_generated)]

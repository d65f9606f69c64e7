"""Where the outside programs of this installation are: Ansible's commands beside the running interpreter.

itpm runs as ``.venv/bin/itpm`` or ``.venv/bin/python -m ...`` without the venv being activated, so its
Ansible must be found next to ``sys.executable`` rather than on PATH (where another Ansible may be).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from itpm.errors import ExecutionError

__all__ = ["bin_dir", "executable", "path_with_bin_dir"]


def bin_dir() -> Path:
    """Return the directory of the running interpreter's scripts, e.g. ``/work/main/.venv/bin``."""
    return Path(sys.executable).parent


def executable(name: str) -> str:
    """Return the full path of ``name`` from this installation, or from PATH as a fallback."""
    beside = bin_dir() / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ExecutionError(f"{name} is not installed", fix="run `make setup` to create the virtualenv")
    return found


def path_with_bin_dir() -> str:
    """Return PATH with this installation's bin directory first, for child processes (ansible-runner)."""
    return os.pathsep.join([str(bin_dir()), os.environ.get("PATH", "/usr/bin:/bin")])

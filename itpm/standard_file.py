"""Reading compliance standard files: YAML in, a validated ``Standard`` out, or an error naming field and fix."""

from __future__ import annotations

from pathlib import Path

from itpm.errors import StandardFileError
from itpm.models.standard import Standard
from itpm.project_file import load_model_file

__all__ = ["load_standard"]


def load_standard(path: Path) -> Standard:
    """Read and validate a standard file; raise StandardFileError naming file, field path and fix."""
    return load_model_file(path, Standard, StandardFileError, "standard file", "standards/lab-baseline.yaml")

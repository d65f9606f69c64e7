"""A slug: the short name of a project, step or environment, which also names runs, tags and files.

>>> TypeAdapter(Slug).validate_python("baseline-rollout")  # doctest: +SKIP
'baseline-rollout'
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["Slug"]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):  # fullmatch: `$` alone would let a trailing newline through
        raise ValueError(f"{value!r}: use lowercase letters, digits and dashes (it names runs and tags)")
    return value


Slug = Annotated[str, AfterValidator(_slug)]

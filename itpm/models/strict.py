"""The base of every model read from a file a person writes (projects, standards, runbooks): strict and frozen.

Unknown keys are errors (a misspelt ``max_fail_pecent`` must not silently mean "no limit"), values do not change
once read, and numbers are finite.

>>> class Gate(StrictModel):
...     hours: float
>>> Gate(hours=1, minuts=5)  # doctest: +SKIP
ValidationError: 1 validation error for Gate
minuts
  Extra inputs are not permitted [type=extra_forbidden, input_value=5, input_type=int]
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["StrictModel"]


class StrictModel(BaseModel):
    """A model that forbids unknown keys, is frozen, and refuses inf and nan."""

    # No inf or nan: `pause_seconds: .inf` would pause forever, a target of .inf seconds is always met, and nan
    # compares false with every limit.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

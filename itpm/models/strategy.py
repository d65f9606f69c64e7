"""How a step rolls out: canary, batch sizes, failure tolerance, pauses, approval and change window (data).

A count is a number of hosts (``3``) or a share of the step's hosts (``"25%"``, rounded up, at least one host).

>>> RolloutStrategy(canary=1, batch_size="50%", max_fail_percent=20).batch_size
'50%'
"""

from __future__ import annotations

import math
import re
from datetime import datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, field_validator

from itpm.models.strict import StrictModel

__all__ = ["ApprovalGate", "ChangeWindow", "HostCount", "RolloutStrategy", "Weekday", "count_of"]

_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")
_HOURS_A_YEAR = 24 * 366
_SECONDS_A_DAY = 24 * 3600


def _check_count(value: object) -> int | str:
    if isinstance(value, bool):
        raise ValueError("must be a number of hosts or a percentage like '25%'")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"{value} hosts: must be >= 1 (or a percentage like '25%')")
        return value
    if isinstance(value, str):
        match = _PERCENT.match(value.strip())
        if match and 0 < float(match[1]) <= 100:  # noqa: PLR2004 - a percentage
            return value.strip()
        raise ValueError(f"{value!r}: must be a number of hosts >= 1 or a percentage from 1% to 100%, like '25%'")
    raise ValueError("must be a number of hosts or a percentage like '25%'")


HostCount = Annotated[int | str, BeforeValidator(_check_count)]


def count_of(spec: int | str, total: int) -> int:
    """Return how many of ``total`` hosts ``spec`` means: ``count_of('25%', 10) == 3``, ``count_of(4, 3) == 3``."""
    if isinstance(spec, int):
        return min(spec, total)
    # Decimal, not float: 30% of 10 hosts must be exactly 3, not 3.0000000000000004 rounded up to 4.
    share = Decimal(spec.rstrip("%"))
    return min(total, max(1, math.ceil(share * total / 100)))


class Weekday(StrEnum):
    """Days a change window may open."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class ChangeWindow(StrictModel):
    """When hosts may be changed: ``days`` between ``start`` and ``end`` in ``timezone`` (end may pass midnight)."""

    days: tuple[Weekday, ...] = tuple(Weekday)
    start: time
    end: time
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}: use an IANA name like 'Europe/Berlin' or 'UTC'") from None
        return value

    def contains(self, moment: datetime) -> bool:
        """Return whether ``moment`` (timezone-aware) falls inside the window."""
        local = moment.astimezone(ZoneInfo(self.timezone))
        day = list(Weekday)[local.weekday()]
        now = local.time()
        if self.start <= self.end:
            return day in self.days and self.start <= now < self.end
        # Overnight window: the part after midnight belongs to the day the window opened.
        yesterday = list(Weekday)[(local.weekday() - 1) % 7]
        return (day in self.days and now >= self.start) or (yesterday in self.days and now < self.end)


class ApprovalGate(StrictModel):
    """A person with one of ``roles`` (other than the requester) must approve before the step changes hosts."""

    roles: tuple[str, ...] = Field(min_length=1)
    # Prefect's pause times out after one hour by default and fails the run; a change often waits longer. At most
    # a year: the timeout becomes a timedelta, and 1e300 hours would overflow it when the gate opens.
    timeout_hours: float = Field(default=72.0, gt=0, le=_HOURS_A_YEAR)


class RolloutStrategy(StrictModel):
    """Canary first, then batches; a batch fails past ``max_fail_percent`` of its hosts (the canary past none)."""

    canary: HostCount | None = 1
    batch_size: HostCount = "100%"
    max_fail_percent: float = Field(default=0.0, ge=0, le=100)
    # At most a day: a longer wait between batches is an approval gate's job, and time.sleep overflows on 1e300.
    pause_seconds: float = Field(default=0.0, ge=0, le=_SECONDS_A_DAY)
    approval: ApprovalGate | None = None
    change_window: ChangeWindow | None = None
    # Why the change board approved this kind of change in advance (ITIL's standard-change catalogue): a step
    # whose risks make it a normal change then runs as a standard one, without approval (itpm.models.change_control).
    pre_authorised: str | None = None

    @field_validator("pre_authorised")
    @classmethod
    def _says_why(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("say why the change board approved this kind of change in advance, or leave it out")
        return value.strip() if value is not None else None

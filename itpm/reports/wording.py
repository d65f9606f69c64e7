"""How reports put numbers and times into words: UTC times, durations, money, the last line of an error.

>>> when(datetime(2026, 11, 26, 14, 5, tzinfo=UTC)), duration(5400), money(Decimal("1240.5"), "EUR")
('2026-11-26 14:05 UTC', '90 min', 'EUR 1,240.50')
>>> percent(7.5), percent(99.97), plural(1, "host"), plural(3, "host")
('7.5%', '99.9%', '1 host', '3 hosts')
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

__all__ = ["duration", "last_line", "money", "percent", "plural", "when"]


def when(moment: datetime | None) -> str:
    """Return ``moment`` as ``2026-11-26 14:05 UTC`` (empty for None)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment is not None else ""


def duration(seconds: float) -> str:
    """Return a duration a person reads at a glance: ``42 s``, ``90 min``, ``3.5 hours``."""
    minutes = seconds / 60
    if minutes < 1:
        return f"{seconds:.0f} s"
    if minutes < 120:  # noqa: PLR2004 - up to two hours read best in minutes
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} hours"


def money(amount: Decimal | None, currency: str) -> str:
    """Return ``EUR 1,240.50`` (``unknown`` for None)."""
    return f"{currency} {amount:,.2f}" if amount is not None else "unknown"


def last_line(text: str) -> str:
    """Return the last non-blank line of ``text`` (where Ansible and pytest put the reason)."""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def percent(value: float) -> str:
    """Return a percentage to one decimal, without a trailing ``.0``: ``'50%'``, ``'7.5%'``.

    Never ``'100%'`` for a share short of all, nor ``'0%'`` for a share above nothing: a sponsor reads those as
    done and not started.
    """
    shown = round(value, 1)
    if 0 < value < 100:  # noqa: PLR2004 - the ends of a percentage
        shown = min(max(shown, 0.1), 99.9)
    return f"{shown:.1f}".removesuffix(".0") + "%"


def plural(count: int, noun: str) -> str:
    """Return ``'1 host'``, ``'3 hosts'``, ``'2 batches'``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}{'es' if noun.endswith(('ch', 'sh', 's')) else 's'}"

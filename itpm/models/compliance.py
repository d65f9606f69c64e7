"""A compliance project's section of its project file: the standard it audits against, and the waivers it grants.

>>> Waiver(control="SSH-01", hosts=["h3"], owner="dana", reason="vendor appliance", expires=date(2027, 1, 31)
...        ).active(date(2026, 12, 1))
True
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from itpm.models.repo_path import RepoPath
from itpm.models.strict import StrictModel

__all__ = ["Compliance", "Waiver"]


class Waiver(StrictModel):
    """An accepted exception: ``control`` may fail on ``hosts`` until ``expires``; then it is a finding again."""

    control: str
    hosts: tuple[str, ...] = Field(min_length=1)  # host names or Ansible patterns
    owner: str
    reason: str = Field(min_length=1)
    expires: date

    def active(self, today: date) -> bool:
        """Return whether the waiver still holds on ``today`` (it holds through its expiry date)."""
        return today <= self.expires


class Compliance(StrictModel):
    """The standard a compliance project audits against, and the waivers this project grants."""

    standard: RepoPath
    waivers: tuple[Waiver, ...] = ()

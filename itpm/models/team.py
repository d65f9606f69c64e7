"""Who a project involves, in its project file: the team that runs and approves it, and stakeholders told of it.

>>> Person(name="Dana Kim", role="change_manager", user="dana").is_("dana")
True
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import ValidationInfo, field_validator

from itpm.models.strict import StrictModel

__all__ = ["Notice", "Person", "Stakeholder"]


class Notice(StrEnum):
    """What a stakeholder wants to hear about."""

    PHASE_CHANGES = "phase_changes"
    APPROVALS = "approvals"
    HALTS = "halts"
    COMPLETION = "completion"


class Person(StrictModel):
    """A team member; ``role`` is what approval gates and rates refer to."""

    name: str
    role: str
    user: str | None = None  # login name, as given to `itpm run --as` / `itpm approve --as`
    email: str | None = None
    on_call: bool = False
    # The public half of their SSH signing key ("ssh-ed25519 AAAA..."): approvals signed with it are theirs.
    signing_key: str | None = None

    @field_validator("signing_key")
    @classmethod
    def _public_key(cls, key: str | None, info: ValidationInfo) -> str | None:
        # Imported here: itpm.signing builds on these models, so a module-level import would be circular.
        from itpm.signing.allowed_signers import parse_public_key  # noqa: PLC0415

        if key is not None:
            parse_public_key(key)  # raises ValueError saying what a key looks like
            if not (info.data.get("user") or info.data.get("email")):
                raise ValueError("a signing key needs the person's user or email: that is whom it signs as")
        return key

    def is_(self, identity: str) -> bool:
        """Return whether ``identity`` (a name, login or e-mail address) is this person."""
        return identity in {self.name, self.user, self.email}


class Stakeholder(StrictModel):
    """Someone who hears about the project: what they want to know, and where to send it."""

    name: str
    role: str
    wants: tuple[Notice, ...] = (Notice.COMPLETION,)
    channel: str | None = None  # "email:cio@example.com", "webhook:https://...", "file:reports/cio", or "secret:..."

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, channel: str | None) -> str | None:
        # Imported here: itpm.notify builds on these models, so a module-level import would be circular.
        from itpm.notify.address import parse_channel  # noqa: PLC0415

        if channel is not None:
            parse_channel(channel)  # raises ValueError saying what a channel looks like
        return channel

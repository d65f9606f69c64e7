"""A project's signing section: where its allowed signers are listed, and whether approvals must be signed.

Signatures are required by default everywhere but the lab: an unsigned approval is a name typed into a form.

>>> Signing(required=False).required
False
"""

from __future__ import annotations

from itpm.models.repo_path import RepoPath
from itpm.models.strict import StrictModel

__all__ = ["Signing"]


class Signing(StrictModel):
    """Whose keys sign for the project (besides team members' ``signing_key``) and whether signing is required."""

    allowed_signers: RepoPath | None = None  # git's allowed-signers format: "chris,chris@example.com ssh-ed25519 ..."
    required: bool | None = None  # None: required unless the project's environment is "lab"

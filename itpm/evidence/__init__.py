"""Evidence of a run for an auditor: one archive to check offline, without itpm (``itpm evidence RUN``).

``build_evidence`` writes it from the project log (members.py says what it holds), ``verify_evidence`` checks it
the way an auditor would with python3 and ssh-keygen (VERIFY.md, verify_chain.py in the archive), and more.

>>> path = build_evidence(log, "r1", Path("reports/evidence"))  # doctest: +SKIP
>>> verify_evidence(path).ok  # doctest: +SKIP
True
"""

from __future__ import annotations

from itpm.evidence.build import EvidenceRefused, archive_name, build_evidence
from itpm.evidence.members import NotEvidence
from itpm.evidence.verify import EvidenceReport, Problem, verify_evidence

__all__ = [
    "EvidenceRefused",
    "EvidenceReport",
    "NotEvidence",
    "Problem",
    "archive_name",
    "build_evidence",
    "verify_evidence",
]

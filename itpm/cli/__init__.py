"""The ``itpm`` command: parse arguments, call a service, render the result.

One module per command family, each registering its commands on the typer ``app`` (typer_app.py):

- adhoc.py: ``apply``, ``plan``, ``verify``, a playbook or checks on an inventory's hosts;
- project_files.py: ``validate``, ``schema``;
- runs.py: ``run``, ``resume``, ``recover``, each run by its Prefect flow and followed (following.py);
- approvals.py: ``approve`` (the Prefect side of it is flows/approval.py);
- reviews.py: ``review``, the post-implementation review of an emergency change;
- project_log.py: ``log`` (``log RUN``, ``log verify``);
- evidence.py: ``evidence`` (``evidence RUN``, ``evidence verify``);
- reports.py: ``status``, ``report``;
- bookkeeping.py: ``book``, ``risk``, ``note``;
- demo.py: ``demo``;
- lab_server.py: ``lab up|down|status``, ``server start|stop|status``.

exit_codes.py alone turns errors, interrupts and results into exit codes; entry.py's ``main`` is the script.
"""

from __future__ import annotations

# Imported for what they do: each registers its family's commands on the app, in the order `itpm --help` lists.
from itpm.cli import adhoc, project_files, runs  # noqa: F401  # isort: skip
from itpm.cli import approvals, reviews, project_log, evidence, reports, bookkeeping, demo, lab_server  # noqa: F401  # isort: skip
from itpm.cli.entry import main
from itpm.cli.typer_app import app

__all__ = ["app", "main"]

"""The Prefect tag that ties a flow run to its itpm run: ``run_tag('demo-r1') == 'itpm-run:demo-r1'``.

Every flow run of a project run (its first, and each resumption) carries it, so that whoever looks for the run's
flow runs in Prefect (the approval answered from the command line, a resumption ending stale flow runs, the
tests) finds them by it. Imports no Prefect: it is only the tag's spelling.
"""

from __future__ import annotations

__all__ = ["run_tag"]

_PREFIX = "itpm-run:"


def run_tag(run_id: str) -> str:
    """Return the tag of the flow runs of itpm run ``run_id``: ``'itpm-run:demo-20261126T100000-3f9a1c'``."""
    return f"{_PREFIX}{run_id}"

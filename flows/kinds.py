"""One flow per kind of project, each the generic project flow under its own name (one place for the logic).

The Prefect UI lists them separately, so a PM filters disaster-recovery runs apart from compliance runs.
"""

from __future__ import annotations

from typing import Any

from prefect import Flow

from flows.project import project_flow
from itpm.models.project import ProjectKind

__all__ = [
    "FLOWS",
    "compliance_flow",
    "disaster_recovery_flow",
    "flow_for",
    "hardware_install_flow",
    "network_config_flow",
]

FLOWS: dict[ProjectKind, Flow[..., Any]] = {
    kind: project_flow.with_options(name=f"itpm-{kind.value.replace('_', '-')}") for kind in ProjectKind
}


def flow_for(kind: ProjectKind) -> Flow[..., Any]:
    """Return the flow for projects of ``kind``: ``flow_for(ProjectKind.COMPLIANCE).name == 'itpm-compliance'``."""
    return FLOWS[kind]


# Module-level names, so that prefect.yaml's deployments can point at each flow (flows/kinds.py:<name>).
hardware_install_flow = FLOWS[ProjectKind.HARDWARE_INSTALL]
network_config_flow = FLOWS[ProjectKind.NETWORK_CONFIG]
disaster_recovery_flow = FLOWS[ProjectKind.DISASTER_RECOVERY]
compliance_flow = FLOWS[ProjectKind.COMPLIANCE]

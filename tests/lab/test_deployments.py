"""prefect.yaml: every shipped project and runbook is a deployment, registered on a real server with typed forms.

A PM or on-call starts a run from the Prefect UI; the form the UI draws comes from the parameter schema that
`prefect deploy` derives from the flow's signature. These tests register the deployments the way the README says
and read back what the server holds.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect import Flow

from flows.kinds import flow_for
from itpm.project_file import load_project
from itpm.recovery import load_runbook
from tests.prefect_ui import api

from .conftest import REPO

PREFECT_YAML = REPO / "prefect.yaml"


def shipped_deployments() -> list[dict[str, Any]]:
    """Return the deployments section of prefect.yaml."""
    document = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    deployments: list[dict[str, Any]] = document["deployments"]
    return deployments


def test_every_shipped_project_and_runbook_has_a_deployment_of_its_kind() -> None:
    by_file = {
        next(iter(deployment["parameters"].values())): deployment["entrypoint"] for deployment in shipped_deployments()
    }
    for project_file in sorted((REPO / "projects").glob("*.yaml")):
        relative = str(project_file.relative_to(REPO))
        assert relative in by_file, f"{relative} has no deployment in prefect.yaml"
        kind = load_project(project_file).kind
        module, name = by_file[relative].split(":")
        deployed = getattr(importlib.import_module(module.removesuffix(".py").replace("/", ".")), name)
        assert deployed is flow_for(kind), f"{relative} is a {kind} project but deploys {by_file[relative]}"
    for runbook_file in sorted((REPO / "runbooks").glob("*.yaml")):
        relative = str(runbook_file.relative_to(REPO))
        load_runbook(runbook_file)
        assert by_file.get(relative) == "flows/recover.py:recover_flow", f"{relative} has no recover deployment"


def test_every_flow_of_the_flows_package_is_deployed() -> None:
    deployed = {deployment["entrypoint"] for deployment in shipped_deployments()}
    defined = {
        f"flows/{module_file.name}:{name}"
        for module_file in sorted((REPO / "flows").glob("*.py"))
        for name, value in vars(importlib.import_module(f"flows.{module_file.stem}")).items()
        # kinds.py's flows are project_flow under each kind's name (its fn lives in flows.project): the project
        # flow itself is deployed only through them, so that the UI lists runs by kind.
        if isinstance(value, Flow) and value.fn.__module__ == f"flows.{module_file.stem}" and name != "project_flow"
    }
    assert "flows/baseline.py:baseline" in defined  # the test sees flows where they are
    assert defined <= deployed, f"not deployed: {sorted(defined - deployed)}"


def prefect(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the prefect CLI of this virtualenv in the checkout, as an engineer would."""
    command = [str(Path(sys.executable).with_name("prefect")), *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def registered(prefect_api: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Register prefect.yaml on a fresh server; return the server's deployments by name."""
    env = {**os.environ, **prefect_api, "ITPM_CHECKOUT": str(REPO)}
    pool = prefect(env, "work-pool", "create", "itpm", "--type", "process")
    assert pool.returncode == 0, pool.stdout + pool.stderr
    deployed = prefect(env, "--no-prompt", "deploy", "--all")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    return {
        deployment["name"]: deployment for deployment in api(prefect_api["PREFECT_API_URL"], "/deployments/filter", {})
    }


def field_types(deployment: dict[str, Any]) -> dict[str, set[str]]:
    """Return each form field's accepted JSON types (a ``str | None`` field accepts string and null)."""
    fields: dict[str, dict[str, Any]] = deployment["parameter_openapi_schema"]["properties"]
    return {
        name: {option.get("format", option.get("type", "")) for option in field.get("anyOf", [field])}
        for name, field in fields.items()
    }


def test_every_deployment_lands_in_the_itpm_pool_and_runs_from_the_checkout(
    registered: dict[str, dict[str, Any]],
) -> None:
    assert set(registered) == {deployment["name"] for deployment in shipped_deployments()}
    for name, deployment in registered.items():
        assert deployment["work_pool_name"] == "itpm", name
        step = deployment["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]
        # Resolved at registration, not on the worker: workers keep their checkout at this path.
        assert step["directory"] == str(REPO), name


def test_project_deployments_have_typed_forms_with_their_file_filled_in(registered: dict[str, dict[str, Any]]) -> None:
    network = registered["network-config"]
    assert network["parameters"] == {"project_file": "projects/network-config.yaml"}
    assert field_types(network) == {
        "project_file": {"string"},
        "run_id": {"string", "null"},
        "requester": {"string"},
        "dry_run": {"boolean"},
        "emergency": {"string"},  # a reason skips the gates as an emergency change
    }
    assert network["parameter_openapi_schema"]["required"] == ["project_file"]
    ledger = registered["ledger-backup"]
    assert [schedule["schedule"]["cron"] for schedule in ledger["schedules"]] == ["*/15 * * * *"]


def test_recover_deployment_form_has_drill_trigger_time_and_variables(registered: dict[str, dict[str, Any]]) -> None:
    recover = registered["recover-db-primary"]
    assert recover["parameters"] == {"runbook_file": "runbooks/db-primary.yaml"}
    assert field_types(recover) == {
        "runbook_file": {"string"},
        "run_id": {"string", "null"},
        "requester": {"string"},
        "drill": {"boolean"},
        "triggered_at": {"date-time", "null"},
        "extra_vars": {"object", "null"},
    }
    assert "on-call" in recover["tags"]

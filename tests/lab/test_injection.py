"""A hostile but allowed value on real hosts: a project var full of shell and template syntax stays data end to end.

The unit tests (tests/unit/test_hostile_input.py) show that names and paths with such payloads are refused. A var's
value is free text on purpose, so here it travels the whole way: project file -> extra vars -> ansible-playbook on
every lab host (tests/lab/data/playbooks/marker.yml writes it to /etc/itpm-marker) -> the check, which compares the
file with the value it gets through ``--itpm-vars``. Had any hop run it through a shell or rendered it as a Jinja
template, a file named after the payload would exist on the controller or on a host.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from itpm.log.events import HostVerified

from .world import HOSTS, World, finished_status


def hostile_value(tag: str) -> str:
    """Return a value that runs ``touch /tmp/<tag>-<how>`` for each way it could be executed by mistake."""
    return (
        f"x; touch /tmp/{tag}-semicolon $(touch /tmp/{tag}-subshell) `touch /tmp/{tag}-backtick` "
        f"&& touch /tmp/{tag}-and | touch /tmp/{tag}-pipe $$ ../../etc\n"
        f"{{{{ lookup('pipe', 'touch /tmp/{tag}-jinja') }}}} {{% set x = 1 %}}"
    )


@pytest.mark.reliability("shell and path injection")
def test_a_hostile_project_var_reaches_playbook_and_check_as_data(
    world: World, record_property: Callable[[str, object], None]
) -> None:
    tag = f"itpm-pwned-{os.getpid()}"  # this session's own: another session's leftovers cannot fool it
    value = hostile_value(tag)
    project = world.project("inject", batch_size="100%")
    document = yaml.safe_load(project.read_text())
    # marker_content: what the playbook writes and what the check expects (extra vars win over the inventory's).
    document["vars"] = {"marker_content": value}
    project.write_text(yaml.safe_dump(document))
    try:
        done = world.itpm("run", str(project), "--as", "dana")
        assert done.returncode == 0, done.stdout + done.stderr
        (run_id,) = world.log.run_ids()
        assert finished_status(world, run_id) == "completed"
        verified = {e.host for e in world.log.events(run_id, kinds=["host_verified"]) if isinstance(e, HostVerified)}
        assert verified == set(HOSTS)  # the check on each host compared the file with the value: they matched
        for host in HOSTS:
            assert world.marker(host) == value, host  # written as the text it is, template and all
            leftovers = world.lab.host(host).run(f"ls -d /tmp/{tag}* 2>/dev/null")
            assert leftovers.stdout.strip() == "", f"{host}: {leftovers.stdout}"
        assert sorted(Path("/tmp").glob(f"{tag}*")) == []
    finally:
        for path in Path("/tmp").glob(f"{tag}*"):
            path.unlink()
        for host in HOSTS:
            world.lab.host(host).run(f"rm -f /tmp/{tag}*")
    record_property("cases", len(HOSTS))
    record_property(
        "observed",
        "run completed; each host's file and check held the payload as text; no payload file on controller or hosts",
    )

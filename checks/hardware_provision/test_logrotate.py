"""logrotate accepts /etc/logrotate.d/itpm-monagent and rotates the agent's log (``hw_monitoring_log``) with it."""

from __future__ import annotations

from typing import Any

from testinfra.host import Host

_CONFIG = "/etc/logrotate.d/itpm-monagent"
_DIRECTIVES = {"daily", "rotate 7", "compress", "missingok", "copytruncate"}


def test_monagent_log_rotated(host: Host, host_vars: dict[str, Any]) -> None:
    log = host_vars["hw_monitoring_log"]
    config = host.file(_CONFIG)
    assert config.exists, f"{_CONFIG} is missing"
    # -d: a dry run that reads the config and the logs and changes nothing (not even logrotate's state file).
    dry_run = host.run("/usr/sbin/logrotate -d %s", _CONFIG)
    output = dry_run.stdout + dry_run.stderr
    errors = [line.strip() for line in output.splitlines() if line.startswith("error:")]
    assert dry_run.rc == 0 and not errors, f"logrotate -d {_CONFIG} fails (exit {dry_run.rc}): {'; '.join(errors)}"
    assert f"considering log {log}" in output, f"logrotate does not consider {log} with {_CONFIG}"
    missing = _DIRECTIVES - {" ".join(line.split()) for line in config.content_string.splitlines()}
    assert not missing, f"{_CONFIG} lacks {', '.join(sorted(missing))}"

"""chrony is configured with the time servers of ``baseline_ntp_servers``.

Provisioning writes chrony.conf with the baseline's own time-sync tasks, so the baseline's check proves it too:
it is imported here to run under the provisioning step's name.
"""

from __future__ import annotations

from checks.baseline.test_time_sync import (
    test_time_servers_from_inventory as test_provisioned_chrony_lists_time_servers,
)

__all__ = ["test_provisioned_chrony_lists_time_servers"]

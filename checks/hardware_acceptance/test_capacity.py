"""The host offers at least the CPUs, memory and free disk of ``hardware_spec``, read from the host itself.

The burn-in record is not trusted for these: a disk fills up and a host can be swapped after its burn-in.
"""

from __future__ import annotations

from typing import Any

from testinfra.host import Host


def test_enough_cpus(host: Host, host_vars: dict[str, Any]) -> None:
    wanted = int(host_vars["hardware_spec"]["min_cpus"])
    # nproc counts the CPUs this host may run on (its affinity), which is what its services get.
    cpus = int(host.check_output("nproc"))
    assert cpus >= wanted, f"{host_vars['inventory_hostname']} has {cpus} CPU(s); the spec asks at least {wanted}"


def test_enough_memory(host: Host, host_vars: dict[str, Any]) -> None:
    wanted = int(host_vars["hardware_spec"]["min_memory_mb"])
    meminfo = dict(line.split(":", 1) for line in host.file("/proc/meminfo").content_string.splitlines())
    memory_mb = int(meminfo["MemTotal"].split()[0]) // 1024  # /proc/meminfo counts kB
    assert memory_mb >= wanted, (
        f"{host_vars['inventory_hostname']} has {memory_mb} MB of memory; the spec asks at least {wanted} MB"
    )


def test_enough_free_disk(host: Host, host_vars: dict[str, Any]) -> None:
    name = host_vars["inventory_hostname"]
    path = host_vars["hardware_spec"]["disk_path"]
    wanted = int(host_vars["hardware_spec"]["min_free_disk_mb"])
    # df -P prints one line per filesystem whatever the device name's length; column 4 is what is available.
    df = host.run("df -Pm %s", path)
    assert df.rc == 0, f"{name} cannot tell the free space on {path}: {df.stderr.strip()}"
    free_mb = int(df.stdout.splitlines()[-1].split()[3])
    assert free_mb >= wanted, f"{name} has {free_mb} MB free on {path}; the spec asks at least {wanted} MB"

"""The lab fleet itself: isolation between hosts and from the controller, idempotent up, clean down."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from itpm.lab import faults, network
from itpm.lab.fleet import lab_down, lab_status, lab_up
from itpm.settings import Settings

from .conftest import CHECKOUT_TAG, Lab


def test_hosts_have_their_own_name_root_and_processes(lab: Lab) -> None:
    h3, h4 = lab.host("h3"), lab.host("h4")
    assert h3.check_output("hostname") == "h3" and h4.check_output("hostname") == "h4"
    h3.run("echo h3-was-here > /etc/itpm-isolation-probe")
    assert h3.file("/etc/itpm-isolation-probe").exists
    assert not h4.file("/etc/itpm-isolation-probe").exists
    assert h3.check_output("cat /proc/1/comm") == "tini"  # its own PID namespace


def test_hosts_cannot_see_the_controllers_files(lab: Lab) -> None:
    h1 = lab.host("h1")
    assert not h1.file(str(Path(__file__).resolve())).exists
    assert not h1.file(str(lab.settings.lab_dir / lab.name / "id_ed25519")).exists
    controller_keys = h1.run("ls /etc/ssh/ssh_host_*_key")
    assert controller_keys.stdout.split() == ["/etc/ssh/ssh_host_ed25519_key"]  # only its own host key


def test_kernel_settings_are_read_only_but_network_settings_are_the_hosts_own(lab: Lab) -> None:
    h2 = lab.host("h2")
    assert h2.run("echo 10 > /proc/sys/vm/swappiness").rc != 0
    assert h2.run("sysctl -w net.ipv4.ip_forward=1").rc == 0
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() != ""  # the controller's is untouched:
    assert h2.check_output("sysctl -n net.ipv4.ip_forward") == "1"
    assert lab.host("h3").check_output("sysctl -n net.ipv4.ip_forward") == "0"
    h2.run("sysctl -w net.ipv4.ip_forward=0")


def test_up_is_idempotent_and_adds_hosts_then_down_leaves_nothing(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    name = f"i{CHECKOUT_TAG}"
    inventory = tmp_path / "hosts.yml"
    lab_down(settings, name=name)
    lab_up(settings, name=name, count=2, inventory=inventory)
    inits = {h: faults.host_init_pid(name, h) for h in ("h1", "h2")}
    status = lab_up(settings, name=name, count=4)
    assert status.up == ("h1", "h2", "h3", "h4")
    assert {h: faults.host_init_pid(name, h) for h in ("h1", "h2")} == inits  # running hosts were kept
    assert inventory.read_text().count("ansible_host") == 4
    assert len((settings.lab_dir / name / "known_hosts").read_text().splitlines()) == 4
    faults.kill_sshd(name, "h3")
    assert lab_up(settings, name=name, count=4).up == ("h1", "h2", "h3", "h4")  # sshd restarted in place
    assert faults.host_init_pid(name, "h3") is not None

    # Orphan h4: its namespace name is deleted under it (as when another process brought the lab down while
    # this one was booting it), so `ip netns pids` can no longer find its processes.
    network.run_ip(["netns", "del", network.namespace_name(name, "h4")])
    removed = lab_down(settings, name=name)
    assert removed == ["h1", "h2", "h3"]
    host_dirs = str(settings.lab_dir / name / "hosts")
    survivors = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, host_dirs)]
    assert survivors == []
    assert network.list_namespaces(name) == []
    links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=True).stdout)
    assert not [link["ifname"] for link in links if name in link["ifname"]]
    assert not [line for line in Path("/proc/mounts").read_text().splitlines() if f"/{name}/" in line]
    assert not inventory.exists()
    assert lab_status(settings, name=name).hosts == ()


def test_fifty_hosts_come_up_and_answer_ssh(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    name = f"f{CHECKOUT_TAG}"
    lab_down(settings, name=name)
    try:
        status = lab_up(settings, name=name, count=50, inventory=tmp_path / "hosts.yml")
        assert len(status.up) == 50
    finally:
        assert len(lab_down(settings, name=name)) == 50
    assert network.list_namespaces(name) == []


def _cmdline_has(proc: Path, text: str) -> bool:
    try:
        return text in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False

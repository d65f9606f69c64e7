"""The shared read-only Debian root under every lab host.

Built once with ``debootstrap --variant=minbase`` (about 35-50 s here) and cached by a key of its recipe, so
that a fresh checkout on the same machine reuses it. It holds no keys: host keys and authorized keys are
written into each host's own overlay at boot (see ``itpm.lab.overlay``), so no lab host can read the controller's
files and no two hosts share a secret.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from itpm.errors import LabError

__all__ = ["ROOTFS_PACKAGES", "RootfsRecipe", "ensure_rootfs"]

# Lab hosts have no internet, so whatever a playbook needs on a target must be in the image:
# nftables/iptables for network projects, chrony for time sync config, curl for service checks, logrotate for
# the log rotation that server onboarding configures (a vendor image ships it; onboarding only configures it).
ROOTFS_PACKAGES: tuple[str, ...] = (
    "openssh-server",
    "python3",
    "iproute2",
    "procps",
    "sudo",
    "iputils-ping",
    "netbase",
    "tini",
    "nftables",
    "iptables",
    "chrony",
    "curl",
    "ca-certificates",
    "less",
    "logrotate",
)

# sshd settings a fleet of many parallel connections needs; host keys come per host at boot.
_SSHD_LAB_CONFIG = """\
# Written by itpm's lab rootfs builder: settings every lab host shares.
HostKey /etc/ssh/ssh_host_ed25519_key
UseDNS no
PasswordAuthentication no
PermitRootLogin prohibit-password
# Many forks connect at once: do not refuse them.
MaxStartups 100:30:200
MaxSessions 50
"""

# tini runs this as its only child: sshd daemonizes, so killing sshd leaves the host up but unreachable,
# while killing tini (the PID namespace's init) takes the whole host down.
_LAB_INIT = """\
#!/bin/sh
mkdir -p /run/sshd
/usr/sbin/sshd
exec sleep infinity
"""

_RECIPE_VERSION = "1"  # bump when the customisation below changes, so cached roots are rebuilt


@dataclass(frozen=True)
class RootfsRecipe:
    """What goes into the root; its ``key`` names the cached build.

    >>> RootfsRecipe("bookworm", "http://deb.debian.org/debian").key[:12]  # doctest: +SKIP
    'f3a1c0d29b7e'
    """

    suite: str
    mirror: str
    packages: tuple[str, ...] = ROOTFS_PACKAGES

    @property
    def key(self) -> str:
        """A stable digest of everything that changes the built root."""
        text = "\n".join([_RECIPE_VERSION, self.suite, *sorted(self.packages), _SSHD_LAB_CONFIG, _LAB_INIT])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def ensure_rootfs(cache_dir: Path, recipe: RootfsRecipe) -> Path:
    """Return the path of a built root for ``recipe``, building it first if the cache has none.

    Returns e.g. ``Path('/var/cache/itpm/rootfs/3f1c2a9e0b7d4c11')``. Concurrent callers wait for one build.
    """
    target = cache_dir / recipe.key
    if (target / "usr/local/sbin/lab-init").exists():
        return target
    if shutil.which("debootstrap") is None:
        raise LabError(
            "debootstrap is not installed, so the lab's Debian root cannot be built",
            fix="apt-get install -y debootstrap (make setup does this)",
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "usr/local/sbin/lab-init").exists():
            return target
        building = Path(tempfile.mkdtemp(prefix=f"{recipe.key}.building.", dir=cache_dir))
        try:
            _debootstrap(building, recipe)
            _customise(building)
            building.rename(target)  # atomic: a half-built root is never taken for a finished one
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
    return target


def _debootstrap(root: Path, recipe: RootfsRecipe) -> None:
    command = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(recipe.packages)}",
        recipe.suite,
        str(root),
        recipe.mirror,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise LabError(
            f"debootstrap of {recipe.suite} from {recipe.mirror} failed (exit {done.returncode}):\n{tail}",
            fix="check that the Debian mirror is reachable (apt-get update works) and the disk has 1 GB free",
        )


def _customise(root: Path) -> None:
    # debootstrap's openssh-server generated host keys: every host would share them. Each host gets its own.
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/ssh/sshd_config.d/00-lab.conf").write_text(_SSHD_LAB_CONFIG)
    init = root / "usr/local/sbin/lab-init"
    init.write_text(_LAB_INIT)
    init.chmod(0o755)
    # A non-root user with passwordless sudo, so that playbooks with become can be tested.
    subprocess.run(["chroot", str(root), "useradd", "--create-home", "--shell", "/bin/bash", "deploy"], check=True)
    sudoers = root / "etc/sudoers.d/deploy"
    sudoers.write_text("deploy ALL=(ALL) NOPASSWD:ALL\n")
    sudoers.chmod(0o440)
    for cache in ("var/lib/apt/lists", "var/cache/apt/archives"):
        for entry in (root / cache).glob("*"):
            if entry.is_file():
                entry.unlink()

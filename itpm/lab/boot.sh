#!/bin/sh
# Boot one lab host. Runs as PID 1 of fresh mount, UTS, IPC and PID namespaces, inside the host's network
# namespace (see itpm/lab/hosts.py), still seeing the controller's filesystem. It builds the host's own root
# as an overlay (per-host upper dir over the shared read-only Debian root), pivots into it, and execs tini,
# which reaps orphans and keeps the host alive whatever happens to sshd.
#
# usage: boot.sh HOSTNAME LOWER_ROOT HOST_DIR
set -eu
hostname_="$1"; lower="$2"; hostdir="$3"
root="$hostdir/merged"

hostname "$hostname_"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$hostdir/upper,workdir=$hostdir/work" "$root"

mount -t proc proc "$root/proc"
# The kernel is shared with the controller: only the per-network-namespace sysctls may change here.
mount --bind "$root/proc/sys" "$root/proc/sys"
mount -o remount,bind,ro "$root/proc/sys"
mount --bind "$root/proc/sys/net" "$root/proc/sys/net"
mount -o remount,bind,rw "$root/proc/sys/net"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"

mount -t tmpfs -o mode=0755,nosuid,size=1m tmpfs "$root/dev"
for dev in null zero full random urandom tty; do
    touch "$root/dev/$dev"
    mount --bind "/dev/$dev" "$root/dev/$dev"
done
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m tmpfs "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev,size=256m tmpfs "$root/tmp"

cd "$root"
mkdir -p .oldroot
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot
exec /usr/bin/tini -s -- /usr/local/sbin/lab-init

"""Network namespaces, one per host, joined by veth links to a bridge in a switch namespace.

Nothing is created in the machine's own namespace: the bridge lives in `<prefix>sw`, and every
veth is made with one end in the switch and the other in its host. Deleting the namespaces
removes the links. A run's prefix holds its pid (`ccity<pid>-`), so a later run can tell the
namespaces of a crashed run (pid gone) from a live one and remove them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time

from loadtest.city.shaping import Access, qdisc_commands, shape_for
from loadtest.city.topology import SUBNET_PREFIX, City, Host
from loadtest.errors import LoadtestError

BASE_PREFIX = "ccity"
STALE_NAME = re.compile(rf"^{BASE_PREFIX}(\d+)-")
HOST_DEVICE = "eth0"


def run_prefix(pid: int | None = None) -> str:
    return f"{BASE_PREFIX}{os.getpid() if pid is None else pid}-"


def ip(*args: str) -> str:
    return _run(["ip", *args])


def _run(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise LoadtestError(f"{command[0]} not found: install iproute2") from None
    if done.returncode != 0:
        raise LoadtestError(f"{' '.join(command)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def namespaces() -> list[str]:
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]


def has_netem(namespace: str) -> bool:
    """Try a netem qdisc on the namespace's loopback: kernels without sch_netem refuse it."""
    try:
        _run(["tc", "-n", namespace, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"])
    except LoadtestError:
        return False
    _run(["tc", "-n", namespace, "qdisc", "del", "dev", "lo", "root"])
    return True


def create(city: City, access: Access) -> bool:
    """Build the namespaces and links; returns whether links got their delay (netem)."""
    ip("netns", "add", city.switch)
    ip("-n", city.switch, "link", "add", "br0", "type", "bridge")
    ip("-n", city.switch, "link", "set", "br0", "up")
    netem = False
    for number, host in enumerate(city.hosts):
        ip("netns", "add", host.namespace)
        ip("-n", host.namespace, "link", "set", "lo", "up")
        if number == 0:
            netem = has_netem(host.namespace)
        _link(city, host, access, netem)
    return netem


def _link(city: City, host: Host, access: Access, netem: bool) -> None:
    ns = host.namespace
    ip(
        "-n",
        city.switch,
        "link",
        "add",
        host.port_name,
        "type",
        "veth",
        "peer",
        "name",
        HOST_DEVICE,
        "netns",
        ns,
    )
    ip("-n", city.switch, "link", "set", host.port_name, "master", "br0", "up")
    ip("-n", ns, "addr", "add", f"{host.address}/{SUBNET_PREFIX}", "dev", HOST_DEVICE)
    ip("-n", ns, "link", "set", HOST_DEVICE, "up")
    if host.homes:  # the host answers (ARP too) for every home address and can bind to each
        ip("-n", ns, "route", "add", "local", host.homes, "dev", "lo")
    shape = shape_for(host.role, access)
    for command in qdisc_commands(HOST_DEVICE, shape.up_mbit, shape.delay_ms, netem):
        _run(["tc", "-n", ns, *command])
    for command in qdisc_commands(host.port_name, shape.down_mbit, shape.delay_ms, netem):
        _run(["tc", "-n", city.switch, *command])


def sent_bytes(namespace: str, device: str = HOST_DEVICE) -> int:
    """Bytes the host sent on its link (its egress, headers included)."""
    data = json.loads(ip("-j", "-s", "-n", namespace, "link", "show", "dev", device))
    return int(data[0]["stats64"]["tx"]["bytes"])


def destroy(prefix: str) -> list[str]:
    """End every process left in the prefix's namespaces, then delete them. Returns the names."""
    doomed = [name for name in namespaces() if name.startswith(prefix)]
    for name in doomed:
        _kill_members(name)
    for name in doomed:
        with contextlib.suppress(LoadtestError):
            ip("netns", "del", name)
    return doomed


def _kill_members(namespace: str) -> None:
    """Processes still inside a namespace (ours: we started everything in it) are ended by pid."""
    with contextlib.suppress(LoadtestError):
        pids = [int(p) for p in ip("netns", "pids", namespace).split()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if _alive(p)]
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"
    return False


def clean_stale() -> list[str]:
    """Remove the namespaces of earlier runs whose process is gone (a crash, a SIGKILL)."""
    removed: list[str] = []
    prefixes = {m.group(0) for name in namespaces() if (m := STALE_NAME.match(name))}
    for prefix in sorted(prefixes):
        match = STALE_NAME.match(prefix)
        assert match is not None
        pid = int(match.group(1))
        if pid == os.getpid() or not _alive(pid):
            removed += destroy(prefix)
    return removed

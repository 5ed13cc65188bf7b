"""edgebench's measuring pieces: CPU summed over a process tree, nginx with a master and
workers, and the workers scenario's ratios only between servers that ran."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from loadtest.edgebench.hotset import EDGE_HOT, NGINX, ONE, Figures, hot_ratios
from loadtest.edgebench.nginx import nginx_command
from loadtest.edgebench.procs import (
    Load,
    cpu_seconds,
    free_port,
    process_tree,
    server,
    tree_cpu_seconds,
)
from loadtest.edgebench.scenarios import Rounds
from loadtest.edgebench.stack import EDGE_1W, EDGE_2W, NGINX_1W, NGINX_2W
from loadtest.edgebench.varnish import varnish_command
from loadtest.edgebench.workers import workers_ratios

BURN_S = 0.3
BURN = f"import time\nwhile time.process_time() < {BURN_S}: pass\n"


@contextmanager
def parent_of(grandchild: str, then: str) -> Iterator[int]:
    """A process that runs `grandchild` in a child of its own, then `then`; yields its pid once
    the code it ran printed a line."""
    code = (
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', {grandchild!r}])\n{then}"
    )
    command = [sys.executable, "-c", code]
    with subprocess.Popen(command, stdout=subprocess.PIPE, start_new_session=True) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline()
            yield process.pid
        finally:
            os.killpg(process.pid, signal.SIGKILL)


def test_tree_cpu_counts_a_live_child() -> None:
    grandchild = BURN + "print('burnt', flush=True)\ntime.sleep(60)"
    with parent_of(grandchild, "time.sleep(60)") as pid:
        assert len(process_tree(pid)) == 2
        assert tree_cpu_seconds(pid) - cpu_seconds(pid) > BURN_S - 0.05


def test_tree_cpu_keeps_a_reaped_childs_time() -> None:
    with parent_of(BURN, "child.wait()\nprint('reaped', flush=True)\ntime.sleep(60)") as pid:
        assert process_tree(pid) == [pid]
        assert tree_cpu_seconds(pid) - cpu_seconds(pid) > BURN_S - 0.05


def test_nginx_with_two_workers_is_a_master_and_its_children(tmp_path: Path) -> None:
    port = free_port()
    command = nginx_command(tmp_path, port, "http://127.0.0.1:9", access_log=True, workers=2)
    assert command is not None
    with server(command, f"http://127.0.0.1:{port}/healthz", tmp_path / "nginx.out") as pid:
        titles = [Path(f"/proc/{p}/cmdline").read_bytes() for p in process_tree(pid)]
    # and the cache manager and loader, whose CPU counts too
    assert sum(t.startswith(b"nginx: worker process") for t in titles) == 2


def rounds(name: str, cpu: float) -> Rounds:
    r = Rounds(name)
    r.add(Load(requests=1000, bytes=10**9, seconds=1.0, errors=0), cpu)
    return r


def test_workers_ratios_compare_only_servers_that_ran() -> None:
    ran = {n: rounds(n, cpu) for n, cpu in ((EDGE_1W, 1.0), (NGINX_1W, 0.5), (NGINX_2W, 0.6))}
    ratios = workers_ratios(ran, ran, {})
    assert ratios == {
        "playlist cpu/1k req, nginx 2w / 1w": 1.2,
        "playlist req/s, nginx 2w / 1w": 1.0,
        "segment cpu/GB, nginx 2w / 1w": 1.2,
        "segment GB/s, nginx 2w / 1w": 1.0,
        "playlist cpu/1k req, edge / nginx, 1w each": 2.0,
        "playlist req/s, edge / nginx, 1w each": 1.0,
        "segment cpu/GB, edge / nginx, 1w each": 2.0,
        "segment GB/s, edge / nginx, 1w each": 1.0,
    }
    ran[EDGE_2W] = rounds(EDGE_2W, 1.05)
    assert workers_ratios(ran, ran, {})["segment cpu/GB, edge 2w / 1w (target <= 1.10)"] == 1.05


@pytest.mark.skipif(shutil.which("varnishd") is None, reason="varnishd is not installed")
def test_varnish_answers_its_health_itself_and_caches_the_origin(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "seg.ts").write_bytes(b"x" * 1000)
    origin_port, port = free_port(), free_port()
    origin = [sys.executable, "-m", "http.server", str(origin_port), "--bind", "127.0.0.1"]
    with subprocess.Popen(origin, cwd=tmp_path / "www", stderr=subprocess.DEVNULL) as web:
        try:
            command = varnish_command(tmp_path, port, origin_port, thread_pools=2)
            assert command is not None
            with server(command, f"http://127.0.0.1:{port}/healthz", tmp_path / "v.out") as pid:
                url = f"http://127.0.0.1:{port}/seg.ts"
                first = urllib.request.urlopen(url)
                second = urllib.request.urlopen(url)
                assert first.read() == second.read() == b"x" * 1000
                # a hit names the request that filled it beside its own
                assert len(second.headers["X-Varnish"].split()) == 2
                assert len(process_tree(pid)) == 2  # the manager and its child
        finally:
            web.terminate()


def test_hotset_ratios_compare_only_servers_that_ran() -> None:
    figures = {n: rounds(n, cpu) for n, cpu in ((EDGE_HOT, 0.5), (NGINX, 1.0))}
    ratios = hot_ratios(Figures(figures, figures), ONE, "1 worker each")
    assert ratios["segment cpu/GB server, edge / nginx, 1 worker each"] == 0.5
    assert ratios["playlist cpu/1k req, edge / nginx, 1 worker each (target <= 1.2)"] == 0.5
    assert not any("Varnish" in key or "sendfile" in key for key in ratios)

"""Varnish with malloc storage in front of the same origin: the anchor that holds its whole hot
set in memory (issue 21). Optional: without varnishd the scenarios that use it say so."""

from __future__ import annotations

import shutil
from pathlib import Path

# /healthz answered by Varnish itself (as nginx's `return 200`), everything else cached by
# the builtin VCL, which honours the origin's Cache-Control as proxy_cache does
VCL = """vcl 4.1;
backend origin {{ .host = "127.0.0.1"; .port = "{port}"; }}
sub vcl_recv {{ if (req.url == "/healthz") {{ return (synth(200, "ok")); }} }}
"""


def varnish_command(
    root: Path, port: int, upstream_port: int, storage: str = "256m", thread_pools: int = 1
) -> list[str] | None:
    """varnishd in the foreground, malloc storage, one thread pool per worker asked for.

    Varnish is one child process of threads, not N processes: `thread_pools` is the closest
    match to nginx's worker_processes (each pool has its own accept loop); its threads may run
    on any core. No jail (-j none): the bench runs as whoever runs it, in a temporary folder.
    """
    if shutil.which("varnishd") is None:
        return None
    workdir = root / f"varnish-{port}"
    workdir.mkdir(parents=True)
    vcl = workdir / "bench.vcl"
    vcl.write_text(VCL.format(port=upstream_port))
    return [
        "varnishd",
        "-F",
        "-j",
        "none",
        "-n",
        str(workdir),
        "-a",
        f"127.0.0.1:{port}",
        "-f",
        str(vcl),
        "-s",
        f"malloc,{storage}",
        "-p",
        f"thread_pools={thread_pools}",
    ]

#!/usr/bin/env python3
"""Run the HTTP WG cache-tests suite (http-tests/cache-tests) through a cache on loopback.

    python scripts/conformance.py                    # the edge with config/edge.toml
    python scripts/conformance.py edge nginx varnish # one run of each, one table
    python scripts/conformance.py edge --json out.json --failures

The suite's unmodified source comes from ../shared/conformance/ (or --tarball); it is unpacked and
`npm install`ed once into a cache directory outside git (.cache/cache-tests, or --work). For each
cache: the suite's own origin on a free port, the cache in front of it on another free port with
its default settings, then the suite's CLI through the cache. A test passes when results.json says
`true` (each test judged on its own, as cache-tests.fyi does before dependencies). Only tests that
apply to a shared cache are run (the CLI leaves the browser-only ones out): 365 at b55b8bd.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARBALL = ROOT.parent / "shared" / "conformance" / "cache-tests-b55b8bd.tar.gz"
WORK = ROOT / ".cache" / "cache-tests"
SUITE_TIMEOUT_S = 600.0
START_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"conformance: {what} exited with {proc.returncode} at start-up")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise SystemExit(f"conformance: {what} did not listen on {port} in {START_TIMEOUT_S:.0f} s")


def prepare(tarball: Path, work: Path) -> Path:
    """The unpacked suite with its npm dependencies; idempotent (a stamp names the tarball)."""
    suite = work / "cache-tests"
    stamp = work / ".installed"
    if stamp.exists() and stamp.read_text() == tarball.name and (suite / "node_modules").is_dir():
        return suite
    if not tarball.is_file():
        raise SystemExit(f"conformance: the suite's tarball is missing: {tarball}")
    if shutil.which("npm") is None:
        raise SystemExit("conformance: npm is missing (scripts/setup --dev installs it)")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    subprocess.run(["tar", "xzf", str(tarball), "-C", str(work)], check=True)
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=suite,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    stamp.write_text(tarball.name)
    return suite


def npm_env(port: int, tmp: Path, base: str = "") -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        npm_config_port=str(port),
        npm_config_protocol="http",
        npm_config_pidfile=str(tmp / "server.pid"),
        npm_config_base=base,
        npm_config_id="",
        npm_package_config_id="",  # the CLI runs one test unless this is "" (cli.mjs)
    )
    return env


@contextlib.contextmanager
def running(cmd: list[str], port: int, what: str, **kwargs: object) -> Iterator[None]:
    log = open(kwargs.pop("log"), "wb")  # type: ignore[call-overload]  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, **kwargs)  # type: ignore[call-overload]
    try:
        wait_port(port, proc, what)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextlib.contextmanager
def suite_origin(suite: Path, tmp: Path) -> Iterator[int]:
    port = free_port()
    cmd = ["node", "test-engine/server/server.mjs"]
    with running(
        cmd, port, "the suite's origin", cwd=suite, env=npm_env(port, tmp), log=tmp / "origin.log"
    ):
        yield port


def edge_cmd(port: int, origin: int, tmp: Path, config: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "edge",
        "serve",
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--upstream",
        f"http://127.0.0.1:{origin}",
        "--cache-dir",
        str(tmp / "edge-cache"),
        "--no-access-log",
    ]


NGINX_CONF = """
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    proxy_cache_path {tmp}/nginx-cache keys_zone=cache:10m;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_cache cache;
            proxy_pass http://127.0.0.1:{origin};
        }}
    }}
}}
"""


@contextlib.contextmanager
def cache_under_test(name: str, origin: int, tmp: Path, config: Path) -> Iterator[int]:
    port = free_port()
    log = tmp / f"{name}.log"
    if name == "edge":
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        with running(edge_cmd(port, origin, tmp, config), port, "the edge", env=env, log=log):
            yield port
    elif name == "nginx":
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, origin=origin))
        with running(["nginx", "-c", str(conf), "-p", str(tmp)], port, "nginx", log=log):
            yield port
    elif name == "varnish":
        cmd = [
            "varnishd", "-F", "-n", str(tmp / "varnish"), "-a", f"127.0.0.1:{port}",
            "-b", f"127.0.0.1:{origin}", "-s", "malloc,64m", "-T", "none",
        ]  # fmt: skip
        with running(cmd, port, "varnishd", log=log):
            yield port
    else:
        raise SystemExit(f"conformance: unknown cache {name!r} (edge, nginx, varnish)")


def run_suite(suite: Path, port: int, tmp: Path, timeout: float) -> dict[str, object]:
    base = f"http://127.0.0.1:{port}"
    done = subprocess.run(
        ["node", "--no-warnings", "test-engine/cli.mjs"],
        cwd=suite,
        env=npm_env(0, tmp, base),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    try:
        results = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise SystemExit(
            f"conformance: the suite's CLI gave no results: {done.stderr[-500:]!r}"
        ) from None
    assert isinstance(results, dict)
    return results


def sections(suite: Path) -> dict[str, tuple[str, str]]:
    """test id -> (section id, kind), from the suite's own definitions."""
    script = (
        "import tests from './tests/index.mjs';const o={};"
        "for(const s of tests)for(const t of s.tests)if(!t.browser_only)o[t.id]=[s.id,t.kind||'required'];"
        "console.log(JSON.stringify(o))"
    )
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script], cwd=suite, capture_output=True, check=True
    )
    return {k: (v[0], v[1]) for k, v in json.loads(out.stdout).items()}


def run(
    name: str,
    suite: Path,
    config: Path,
    timeout: float = SUITE_TIMEOUT_S,
    logs: Path | None = None,
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix=f"cache-tests-{name}-") as raw:
        tmp = Path(raw)
        tmp.chmod(0o755)  # nginx's workers run as another user and write their temp files here
        try:
            with (
                suite_origin(suite, tmp) as origin,
                cache_under_test(name, origin, tmp, config) as port,
            ):
                return run_suite(suite, port, tmp, timeout)
        finally:
            if (
                logs is not None
            ):  # the cache's own log is <name>.log, the origin's <name>-origin.log
                logs.mkdir(parents=True, exist_ok=True)
                for log in tmp.glob("*.log"):
                    kept = log.name if log.stem == name else f"{name}-{log.name}"
                    shutil.copy(log, logs / kept)


def passed(results: dict[str, object]) -> set[str]:
    return {test for test, verdict in results.items() if verdict is True}


def table(
    names: list[str], runs: dict[str, dict[str, object]], index: dict[str, tuple[str, str]]
) -> str:
    order: list[str] = []
    for section, _ in index.values():
        if section not in order:
            order.append(section)
    rows = ["| section | tests | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for section in [*order, "total"]:
        ids = [t for t, (s, _) in index.items() if section in (s, "total")]
        cells = [str(len(passed(runs[n]) & set(ids))) for n in names]
        rows.append(f"| {section} | {len(ids)} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("caches", nargs="*", default=["edge"], help="edge, nginx, varnish")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "edge.toml")
    parser.add_argument(
        "--tarball", type=Path, default=Path(os.environ.get("CLASSCAST_CACHE_TESTS", TARBALL))
    )
    parser.add_argument("--work", type=Path, default=WORK, help="where the suite is unpacked")
    parser.add_argument("--json", type=Path, help="write {cache: results} here")
    parser.add_argument("--failures", action="store_true", help="list every test failed")
    parser.add_argument("--logs", type=Path, help="keep the caches' and origin's logs here")
    parser.add_argument(
        "--prepare-only", action="store_true", help="unpack and npm install, then stop"
    )
    args = parser.parse_args()
    suite = prepare(args.tarball, args.work)
    if args.prepare_only:
        print(f"conformance: the suite is ready in {suite}")
        return 0
    index = sections(suite)
    runs = {}
    for name in args.caches:
        started = time.monotonic()
        runs[name] = run(name, suite, args.config, logs=args.logs)
        print(
            f"{name}: {len(passed(runs[name]))} of {len(index)} passed in {time.monotonic() - started:.0f} s",
            file=sys.stderr,
        )
    print(table(args.caches, runs, index))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1, sort_keys=True))
    if args.failures:
        for name in args.caches:
            print(f"\n{name} failures:")
            for test, verdict in sorted(runs[name].items()):
                if verdict is not True:
                    print(f"  {test} [{index.get(test, ('?', '?'))[1]}]: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

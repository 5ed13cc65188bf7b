"""`python -m edge serve ...`: the command-line contract operators and scripts depend on."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import orjson
import uvloop

from classcast.cli import OneLineParser
from classcast.config import env_values
from classcast.logs import setup
from edge import config as edge_config
from edge.app import running_edge
from edge.errors import ConfigError
from edge.http.tls import ServerTls, TlsError
from edge.runtime import raise_fd_limit, stop_event, tune_gc, tune_malloc
from edge.serve.signing import sign_url
from edge.serve.support import describe
from edge.supervisor import Supervisor
from edge.worker import serve_worker

log = logging.getLogger("edge")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = OneLineParser(prog="edge", description="classcast HLS edge cache")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    serve = commands.add_parser("serve", help="run the edge")
    serve.add_argument("--config", type=Path, help="TOML file (config/edge.toml)")
    serve.add_argument("--host", help="one-listener shorthand: the address of --port/--tls-port")
    serve.add_argument("--port", type=int)
    serve.add_argument("--tls-port", type=int, help="HTTPS on --host at this port")
    serve.add_argument(
        "--listen", action="append", help="plain HTTP on ADDRESS:PORT, [::]:PORT (repeatable)"
    )
    serve.add_argument("--listen-tls", action="append", help="HTTPS on ADDRESS:PORT (repeatable)")
    serve.add_argument("--upstream", action="append", help="origin or parent URL (repeatable)")
    serve.add_argument("--cache-dir")
    serve.add_argument("--ram", dest="ram_bytes", help="RAM tier budget, e.g. 256MiB")
    serve.add_argument("--disk", dest="disk_bytes", help="disk tier budget, e.g. 10GiB")
    serve.add_argument(
        "--hot", dest="hot_bytes", help="hot tier budget per node, e.g. 512MiB (0: off)"
    )
    serve.add_argument("--node-id")
    serve.add_argument("--log-level")
    serve.add_argument(
        "--workers", help='processes on one port and one cache: N or "auto" (one per CPU)'
    )
    serve.add_argument("--shutdown-timeout", type=float, help="seconds to drain on stop")
    serve.add_argument("--no-access-log", dest="access_log", action="store_false", default=None)
    serve.add_argument(
        "--no-sendfile",
        dest="sendfile",
        action="store_false",
        default=None,
        help="copy disk hits through Python instead of zero-copy sendfile",
    )
    _security_flags(serve)
    _tls_flags(serve)
    serve.add_argument(
        "--no-viewers",
        dest="viewers",
        action="store_false",
        default=None,
        help="no viewer sessions, CMCD or latency histograms",
    )
    serve.add_argument("--viewer-window-targets", type=float, help="window in target durations")
    serve.add_argument("--viewer-sessions-max", type=int, help="sessions kept per worker")
    worker = commands.add_parser("worker", help="one worker of a node (serve --workers starts it)")
    worker.add_argument("--index", type=int, required=True)
    worker.add_argument("--listen-fd", type=int, action="append", required=True)
    worker.add_argument("--hub-fd", type=int, required=True)
    sign = commands.add_parser("sign", help="print PATH with a signed-URL token added")
    sign.add_argument("path", metavar="PATH")
    sign.add_argument("--key", help="signing key (default: the first of $CLASSCAST_EDGE_SIGN_KEYS)")
    sign.add_argument("--ttl", type=int, default=3600, help="seconds the token is valid")
    sign.add_argument("--prefix", default="", help="sign every path under this prefix")
    sign.add_argument("--client-ip", default="", help="bind the token to this client address")
    viewers = commands.add_parser("viewers", help="print the support lookup of one viewer")
    viewers.add_argument("--admin", required=True, help="the edge's base URL (http://host:port)")
    who = viewers.add_mutually_exclusive_group(required=True)
    who.add_argument("--client", help="the viewer's address")
    who.add_argument("--sid", help="the player's CMCD or playback session id")
    viewers.add_argument("--token", help="admin token (default: $CLASSCAST_EDGE_ADMIN_TOKEN)")
    viewers.add_argument("--json", action="store_true", help="print the JSON as it came")
    return parser.parse_args(argv)


def _security_flags(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--sign-key", dest="sign_keys", action="append", help="verify signed URLs (repeatable)"
    )
    serve.add_argument("--max-conns-per-client", type=int, help="0: no limit")
    serve.add_argument("--rate-per-client", type=float, help="requests/s per client, 0: off")
    serve.add_argument("--rate-burst-per-client", type=float)
    serve.add_argument("--header-timeout", type=float, help="seconds for a request head, 0: off")
    serve.add_argument("--idle-timeout", type=float, help="keep-alive idle seconds, 0: off")


def _tls_flags(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--tls-cert", action="append", help="PEM certificate (chain after it) or directory"
    )
    serve.add_argument("--tls-key", action="append", help="PEM key of each --tls-cert file")
    serve.add_argument("--tls-profile", help='Mozilla\'s "intermediate" (default) or "modern"')
    serve.add_argument("--tls-ticket-rotate-s", type=float, help="ticket key lifetime, 0: off")
    serve.add_argument("--hsts-max-age", type=int, help="Strict-Transport-Security seconds")
    serve.add_argument("--upstream-ca", help="CA file for https upstreams (default: system)")


def sign_command(args: argparse.Namespace) -> int:
    keys = env_values(os.environ, edge_config.ENV_PREFIX).get("sign_keys", "")
    key = args.key or keys.split(",")[0].strip()
    if not key:
        print("edge sign: a key is needed (--key KEY or CLASSCAST_EDGE_SIGN_KEYS)", file=sys.stderr)
        return 2
    if len(key) < edge_config.MIN_SIGN_KEY_LENGTH:  # the edge would refuse it at start
        print(
            f"edge sign: the key is shorter than {edge_config.MIN_SIGN_KEY_LENGTH} characters",
            file=sys.stderr,
        )
        return 2
    try:
        print(sign_url(args.path, key, time.time(), args.ttl, args.prefix, args.client_ip))
    except ValueError as exc:
        print(f"edge sign: {exc}", file=sys.stderr)
        return 2
    return 0


def viewers_command(args: argparse.Namespace) -> int:
    token = args.token or env_values(os.environ, edge_config.ENV_PREFIX).get("admin_token", "")
    query = urllib.parse.urlencode({"client": args.client} if args.client else {"sid": args.sid})
    url = f"{args.admin.rstrip('/')}/_admin/viewers?{query}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            found = orjson.loads(answer.read())
    except urllib.error.HTTPError as exc:
        reason = exc.read().decode("utf-8", "replace").strip()
        print(f"edge viewers: {exc.code} from {args.admin}: {reason}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"edge viewers: cannot ask {args.admin}: {exc}", file=sys.stderr)
        return 1
    print(
        orjson.dumps(found, option=orjson.OPT_INDENT_2).decode() if args.json else describe(found)
    )
    return 0


def flags(args: argparse.Namespace) -> dict[str, Any]:
    values = {k: v for k, v in vars(args).items() if k not in ("command", "config", "upstream")}
    values["upstreams"] = tuple(args.upstream) if args.upstream else None
    for key in ("listen", "listen_tls", "tls_cert", "tls_key"):  # repeatable: None = not given
        values[key] = tuple(values[key]) if values[key] else None
    return values


async def serve(config: edge_config.EdgeConfig) -> int:
    stopping = stop_event()
    async with running_edge(config) as edge:
        tune_gc()
        if edge.tls is not None:  # one process: SIGHUP re-reads the certificates in place
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload_tls, edge.tls)
        log.info(
            "edge ready", extra={"url": edge.url, "urls": edge.urls, "upstreams": config.upstreams}
        )
        await stopping.wait()
        log.info("edge stopping")
    return 0


def reload_tls(tls: ServerTls) -> None:
    try:
        tls.reload()
    except TlsError as exc:
        log.error("reload refused, the certificates in use stay", extra={"error": str(exc)})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "sign":
        return sign_command(args)
    if args.command == "viewers":
        return viewers_command(args)
    try:
        if args.command == "worker" and sys.stdin.isatty():
            print("edge worker: started by `edge serve --workers N`, not by hand", file=sys.stderr)
            return 2
        if args.command == "worker":  # the supervisor checked it; the worker checks again
            config = edge_config.build(orjson.loads(sys.stdin.buffer.read()))
        else:
            config = edge_config.load(args.config, flags(args))
    except (ConfigError, orjson.JSONDecodeError) as exc:
        print(f"edge: config error: {exc}", file=sys.stderr)
        return 2
    worker = {"worker": args.index, "pid": os.getpid()} if args.command == "worker" else None
    setup(config.log_level, worker)
    raise_fd_limit()
    tune_malloc()
    running: Coroutine[Any, Any, int]
    if args.command == "worker":
        running = serve_worker(config, args.index, args.listen_fd, args.hub_fd)
    elif config.workers > 1:
        running = Supervisor(config, lambda: edge_config.load(args.config, flags(args))).run()
    else:
        running = serve(config)
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(running)
    except OSError as exc:
        print(f"edge: cannot start: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""`origin serve`: load and validate everything, then run the app under uvloop until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

import uvloop
from aiohttp import web

from classcast.errors import ClasscastError
from origin.app import load_state, make_app
from origin.appkeys import LIBRARY
from origin.config import DEFAULT_CONFIG_FILE, OriginConfig, environment, load_config
from origin.logs import JsonAccessLogger, configure_logging

log = logging.getLogger("origin")


def config_from_args(args: argparse.Namespace) -> OriginConfig:
    path = Path(args.config) if args.config else None
    if path is None and DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
    flags = {
        "host": args.host,
        "port": args.port,
        "content": args.content,
        "schedule": args.schedule,
        "faults": args.faults,
    }
    return load_config(path, environment(), flags)


def serve_from_args(args: argparse.Namespace) -> None:
    try:
        config = config_from_args(args)
        configure_logging(config.log_level)
        library, channels = load_state(config)
    except ClasscastError as error:  # a bad setting too
        print(f"origin: {error}", file=sys.stderr)
        sys.exit(2)
    app = make_app(config, library, channels)
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(app, config))
    except OSError as error:  # typically the port is taken
        print(
            f"origin: cannot listen on {config.host}:{config.port}: {error.strerror}",
            file=sys.stderr,
        )
        sys.exit(2)


async def serve(app: web.Application, config: OriginConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(
        app, access_log_class=JsonAccessLogger, shutdown_timeout=config.shutdown_timeout
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, config.host, config.port).start()
        log.info(
            "listening",
            extra={
                "host": config.host,
                "port": config.port,
                "lessons": len(app[LIBRARY].lessons),
                "faults": config.faults,
            },
        )
        await stop.wait()
        log.info("stopping")
    finally:
        # Stops accepting, lets in-flight requests finish within shutdown_timeout, then cancels.
        await runner.cleanup()
    log.info("stopped")

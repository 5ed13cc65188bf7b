"""`python -m edge worker`: one worker of a node, started by its supervisor, never by hand.

It reads its configuration as JSON on standard input (keys stay out of the process list),
serves on every listening socket the supervisor bound (plain and HTTPS), and keeps the cache
in step with the node over its channel. It stops on SIGTERM (draining for `shutdown_timeout`)
or when the supervisor goes away; SIGINT is the supervisor's to act on, since Ctrl-C reaches
the whole process group.
"""

from __future__ import annotations

import logging
import signal
import socket

from edge.app import running_edge
from edge.config import EdgeConfig
from edge.node import messages as m
from edge.node.link import NodeLink
from edge.runtime import stop_event, tune_gc

log = logging.getLogger("edge")


async def serve_worker(config: EdgeConfig, index: int, listen_fds: list[int], hub_fd: int) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stopping = stop_event((signal.SIGTERM,))  # from the start: a SIGTERM is always a drain
    link = NodeLink(index, lost=stopping)  # a worker whose supervisor is gone stops too
    await link.open(socket.socket(fileno=hub_fd))
    try:
        socks = [socket.socket(fileno=fd) for fd in listen_fds]  # one per listener, in order
        async with running_edge(config, node=link, socks=socks):
            tune_gc()
            link.send(m.Ready())
            await stopping.wait()
            log.info("worker stopping")
    finally:
        link.close()
    return 0

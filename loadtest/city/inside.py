"""HTTP from inside a namespace: a worker thread that has joined the namespace's network.

A network namespace belongs to a thread (setns(2) with CLONE_NEWNET changes only the caller),
so one thread joins the monitoring host's namespace and every request of the run's own
measurements goes through it, without starting a process per request.
"""

from __future__ import annotations

import ctypes
import os
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from loadtest.errors import LoadtestError

CLONE_NEWNET = 0x40000000


def _join(namespace: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {namespace}")
    finally:
        os.close(fd)


class NamespaceHttp:
    def __init__(self, namespace: str) -> None:
        self._pool = ThreadPoolExecutor(1, f"netns-{namespace}", _join, (namespace,))

    def get(self, url: str, timeout: float = 3.0) -> bytes:
        return self._pool.submit(_get, url, timeout).result(timeout + 5)

    def try_get(self, url: str, timeout: float = 1.0) -> bytes | None:
        try:
            return self.get(url, timeout)
        except (OSError, LoadtestError):
            return None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _get(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            body: bytes = answer.read()
            return body
    except urllib.error.HTTPError as error:
        raise LoadtestError(f"GET {url}: {error.code}") from None

"""A real origin and a real edge, as processes on loopback, shared by the e2e tests."""

from __future__ import annotations

import dataclasses
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from origin.faults import FaultSettings
from tests.support.process import ROOT, Service, run_service

CONTENT = ROOT / "content"
NO_FAULTS = dataclasses.asdict(FaultSettings())


@dataclass
class Stack:
    origin: Service
    edge: Service
    cache_dir: Path

    def origin_hits(self, path: str) -> int:
        stats = json.loads(urllib.request.urlopen(self.origin.url + "/_stats").read())
        return int(stats["requests"].get(path, 0))

    def set_faults(self, **faults: object) -> None:
        body = json.dumps({**NO_FAULTS, **faults}).encode()
        request = urllib.request.Request(self.origin.url + "/_faults", data=body, method="POST")
        urllib.request.urlopen(request).read()


ADMIN_TOKEN = "portal-test-admin-token"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("logs")
    cache_dir = tmp_path_factory.mktemp("edge-cache")
    origin_args = [
        "--content",
        str(CONTENT),
        "--schedule",
        str(ROOT / "config/schedule.toml"),
        "--faults",
    ]
    with run_service("origin", origin_args, logs / "origin.log") as origin:
        edge_args = ["--upstream", origin.url, "--cache-dir", str(cache_dir)]
        admin = {"CLASSCAST_EDGE_ADMIN_TOKEN": ADMIN_TOKEN}
        with run_service("edge", edge_args, logs / "edge.log", admin) as edge:
            stack = Stack(origin, edge, cache_dir)
            yield stack
            stack.set_faults()

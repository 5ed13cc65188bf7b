"""The portal over HTTPS in a real headless Chromium (Debian's): hls.js plays a lesson and a
live channel from an edge that terminates TLS with a certificate of a test CA (issue 18).

The CA is trusted the way a person or an MDM profile trusts one: added with `certutil` to the
NSS database in the browser's home ($HOME/.pki/nssdb, where Chromium on Linux reads local trust
anchors), not by telling the browser to ignore certificate errors. A browser without it refuses
the same edge, so the trust is real."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Error, Playwright, sync_playwright

from tests.e2e.test_portal_browser import CHROMIUM, CHROMIUM_ARGS, PHONE, TIMEOUT_MS
from tests.support.certs import make_ca, make_leaf
from tests.support.process import Service, free_port, origin_and_edge

pytestmark = pytest.mark.e2e


@dataclass
class HttpsEdge:
    url: str  # https://127.0.0.1:PORT
    ca: Path
    edge: Service


@pytest.fixture(scope="module")
def https_edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsEdge]:
    work = tmp_path_factory.mktemp("https-portal")
    ca = make_ca(work / "pki")
    leaf = make_leaf(ca, work / "pki", "edge", 1)  # localhost, 127.0.0.1, ::1
    port = free_port()
    edge_args = ["--tls-port", str(port), "--tls-cert", str(leaf.cert), "--tls-key", str(leaf.key)]
    with origin_and_edge(work, edge_args) as (_origin, edge):
        yield HttpsEdge(f"https://127.0.0.1:{port}", ca, edge)


def trusting_home(home: Path, ca: Path) -> Path:
    """A home whose NSS database trusts `ca` to identify web servers (trust flags C,,)."""
    if shutil.which("certutil") is None:
        pytest.fail("certutil is missing: scripts/setup --dev installs libnss3-tools")
    database = f"sql:{home / '.pki' / 'nssdb'}"
    (home / ".pki" / "nssdb").mkdir(parents=True)
    for args in (["-N", "--empty-password"], ["-A", "-n", "classcast test CA", "-t", "C,,"]):
        command = ["certutil", "-d", database, *args]
        subprocess.run([*command, "-i", str(ca)] if "-A" in args else command, check=True)
    return home


def launch(playwright: Playwright, home: Path) -> Browser:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup --dev installs Debian's chromium")
    environment: dict[str, str | float | bool] = {**os.environ, "HOME": str(home)}
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, env=environment, timeout=TIMEOUT_MS
    )


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


def test_hls_js_plays_the_portal_over_https(
    playwright: Playwright, https_edge: HttpsEdge, tmp_path: Path
) -> None:
    browser = launch(playwright, trusting_home(tmp_path / "home", https_edge.ca))
    try:
        context = browser.new_context(viewport=PHONE)
        context.set_default_timeout(TIMEOUT_MS)
        requests: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        page = context.new_page()
        page.goto(https_edge.url + "/")
        assert page.evaluate("() => window.isSecureContext && location.protocol") == "https:"
        marks: dict[str, int] = {}
        for path in ("/watch/vod/math-fractions", "/watch/live/grade-10"):
            marks[path] = len(requests)
            page.goto(f"{https_edge.url}{path}?engine=hlsjs")
            page.wait_for_function("() => document.querySelector('video').currentTime > 0.5")
            start = page.evaluate("() => document.querySelector('video').currentTime")
            page.wait_for_function(  # it plays: the position moves on
                f"() => document.querySelector('video').currentTime > {start} + 2"
            )
            assert page.get_attribute("#player", "data-engine") == "hlsjs"
            assert page.evaluate("() => document.querySelector('video').error") is None
        context.close()
    finally:
        browser.close()
    home = https_edge.url + "/"
    assert all(url.startswith((home, "blob:" + home, "data:")) for url in requests), [
        url for url in requests if not url.startswith((home, "blob:" + home, "data:"))
    ]  # every request went over HTTPS to the edge (blob: is hls.js's media source)
    assert any("/assets/hls." in url for url in requests), "hls.js itself over HTTPS"
    live = [urlsplit(url).path for url in requests[marks["/watch/live/grade-10"] :]]
    assert any(path.startswith("/live/grade-10/") for path in live), live  # its playlists
    bounds = [*marks.values(), len(requests)]
    for first, last in itertools.pairwise(bounds):  # each page fetched its segments
        assert any(urlsplit(url).path.endswith(".ts") for url in requests[first:last])
    assert '"path":"/vod/math-fractions/' in https_edge.edge.log()
    assert '"tls":"TLSv1.3"' in https_edge.edge.log()  # the edge's access log says so too


def test_a_browser_without_the_test_ca_refuses_the_edge(
    playwright: Playwright, https_edge: HttpsEdge, tmp_path: Path
) -> None:
    """The control: the trust above comes from the NSS database, nothing else."""
    (tmp_path / "bare").mkdir()
    browser = launch(playwright, tmp_path / "bare")
    try:
        page = browser.new_page()
        with pytest.raises(Error, match="ERR_CERT_AUTHORITY_INVALID"):
            page.goto(https_edge.url + "/")
    finally:
        browser.close()

"""The city on real namespaces: 1 origin, 2 shields, 3 edges, 2 viewer hosts, 300 viewers for
60 s, shield-0 killed at 30 s, Prometheus on; and a smaller one with the shields over TLS.
Bounded (the run has 170 s; the namespaces are removed even when it fails), and serialised with
other load runs on /tmp/classcast-load.lock."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from loadtest.city import netns
from tests.support.process import ROOT
from tests.support.wait import until_sync

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2 is installed by setup --dev"),
]
LOCK = Path("/tmp/classcast-load.lock")
LOCK_WAIT_S = 120.0
RUN_TIMEOUT_S = 170.0


def held_by_an_ancestor(lock: Path) -> bool:
    """`flock /tmp/classcast-load.lock pytest ...` already holds it for us: do not wait on it."""
    pid = os.getppid()
    while pid > 1:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == str(lock):
                        return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


@contextlib.contextmanager
def load_lock() -> Iterator[None]:
    """One load run at a time on this machine (the 2 cores are shared)."""
    if held_by_an_ancestor(LOCK):
        yield
        return
    with LOCK.open("a") as handle:

        def locked() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        until_sync(locked, LOCK_WAIT_S, f"{LOCK} free (another load run holds it)", every=0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_city(report: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    command = [sys.executable, "-m", "loadtest", "city", "--report", str(report), *args]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    prefix = netns.run_prefix(process.pid)
    try:
        output, _ = process.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)  # the city tears itself down on SIGTERM
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        pytest.fail(f"the city run took over {RUN_TIMEOUT_S:.0f} s:\n{output}")
    finally:
        left = netns.destroy(prefix)  # a safety net: a clean run leaves nothing behind
    assert left == [], f"namespaces left behind: {left}"
    result = subprocess.CompletedProcess(command, process.returncode, output, "")
    return result, prefix


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    report = tmp_path_factory.mktemp("city")
    with load_lock():
        result, _ = run_city(
            report,
            "--shields",
            "2",
            "--edges",
            "3",
            "--viewer-hosts",
            "2",
            "--viewers",
            "300",
            "--duration",
            "60",
            "--kill-shield-at",
            "30",
            "--prometheus",
        )
    assert (report / "summary.json").is_file(), result.stdout
    summary: dict[str, Any] = orjson.loads((report / "summary.json").read_bytes())
    summary["_stdout"] = result.stdout
    summary["_exit"] = result.returncode
    summary["_html"] = (report / "report.html").read_text()
    return summary


def test_with_every_shield_up_each_segment_is_fetched_from_the_origin_once(
    city: dict[str, Any],
) -> None:
    up = city["origin"]["all_shields_up"]
    assert up["distinct_segments"] >= 6  # several segments went live before the kill
    repeated = city["origin_fetchers"]["repeated"]  # (seconds into the run, shield) each
    assert up["max_fetches"] == 1 and up["fetches_per_segment"] == 1.0, repeated


def test_a_killed_shield_costs_at_most_one_fetch_per_surviving_shield(city: dict[str, Any]) -> None:
    killed = city["origin"]["shield_killed"]
    assert 29 <= killed["at_s"] <= 32
    assert killed["segments_fetched_after"] >= 4  # segments went live after the kill
    assert killed["max_fetches_after"] <= killed["surviving_shields"] == 1
    assert city["origin"]["max_fetches"] <= 2  # never more than once per shield overall


def test_viewers_do_not_stall_when_a_shield_dies(city: dict[str, Any]) -> None:
    qoe = city["qoe"]
    assert set(qoe) == {"stb", "phone"}
    assert sum(c["sessions"] for c in qoe.values()) >= 300
    assert sum(c["rebuffers"] for c in qoe.values()) == 0
    assert sum(c["start_failures"] for c in qoe.values()) == 0
    # Not asserted: stale playlists (a playlist unchanged for over 1.5 target durations). One
    # run in five showed a few on one edge after the kill, served STALE while its refresh moved
    # to the other shield; no viewer's buffer ran dry.


def test_the_planner_predicts_edge_egress_and_origin_requests_within_20_percent(
    city: dict[str, Any],
) -> None:
    for key in ("edge_egress_gbps", "origin_rps"):
        figures = city["plan"][key]
        assert figures["measured"] > 0
        assert abs(figures["predicted"] - figures["measured"]) <= 0.2 * figures["measured"], key


def test_the_report_has_tiers_requests_and_prometheus_charts(city: dict[str, Any]) -> None:
    assert city["_exit"] == 0, city["_stdout"]
    assert all(check["passed"] for check in city["checks"])
    requests = city["requests_by_tier"]
    assert requests["viewers"] == requests["edge"] > requests["shield"] > requests["origin"] > 0
    for tier in ("origin", "shield", "edge"):
        assert city["tiers"][tier]["cpu_s"] > 0 and city["tiers"][tier]["egress_bytes"] > 0
    assert city["tiers"]["edge"]["hit_ratio"] > 0.99
    assert city["tiers"]["shield"]["tls_connections"] == 0  # plain HTTP between the tiers
    node_ids = [h["node_id"] for h in city["topology"] if h["node_id"]]
    assert len(node_ids) == len(set(node_ids)) == 5
    assert city["links"]["delayed"] is False or "netem" in city["links"]["note"]
    prometheus = city["prometheus"]
    assert {"edge", "shield"} <= set(prometheus["hit_ratio"])
    assert max(v for _, v in prometheus["egress_mbit"]["edge"]) > 1
    assert "Hit ratio by tier (Prometheus)" in city["_html"]
    assert "Egress by tier, bodies (Prometheus" in city["_html"]


def test_shields_reached_over_tls_still_cost_the_origin_one_fetch_per_segment(
    tmp_path: Path,
) -> None:
    """city --tls: every shield serves HTTPS with a certificate of a CA made for the run, the
    edges' parents are https:// URLs verified against that CA (a smaller city, 30 s)."""
    with load_lock():
        result, _ = run_city(
            tmp_path,
            *("--shields", "2", "--edges", "3", "--viewer-hosts", "2"),
            *("--viewers", "60", "--duration", "30", "--ramp", "2", "--tls"),
        )
    assert (tmp_path / "summary.json").is_file(), result.stdout
    summary: dict[str, Any] = orjson.loads((tmp_path / "summary.json").read_bytes())
    up = summary["origin"]["all_shields_up"]
    assert up["distinct_segments"] >= 4 and up["max_fetches"] == 1, result.stdout
    shield, final = summary["tiers"]["shield"], summary["timeline"][-1]
    assert shield["tls_connections"] >= 3 and final["shield.requests"] > 0  # each edge, reused
    assert final["edge.upstream_errors"] == 0
    assert sum(c["rebuffers"] + c["start_failures"] for c in summary["qoe"].values()) == 0
    verdicts = {check["check"]: check["passed"] for check in summary["checks"]}
    assert verdicts["the edges reached the shields over verified TLS"], summary["checks"]
    assert "per object, HTTPS--&gt;" in (tmp_path / "report.html").read_text()  # the picture


def test_a_stale_namespace_of_a_dead_run_is_removed() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    name = f"{netns.run_prefix(dead.pid)}leftover"
    netns.ip("netns", "add", name)
    try:
        assert name in netns.clean_stale()
        assert name not in netns.namespaces()
    finally:
        with contextlib.suppress(Exception):
            netns.ip("netns", "del", name)


def test_bad_city_flags_get_one_line_and_status_2(tmp_path: Path) -> None:
    for flags, message in (
        (["--shields", "0"], "shields: 1 to 250"),
        (["--kill-shield-at", "90", "--duration", "60"], "kill-shield-at: within the run"),
        (["--shields", "1", "--kill-shield-at", "10"], "kill-shield-at: needs two shields"),
        (["--mix", "stb=2"], "mix:"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "loadtest", "city", "--report", str(tmp_path), *flags],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 2, (flags, result.stderr)
        assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_an_interrupted_run_tears_everything_down(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "loadtest",
        "city",
        "--report",
        str(tmp_path),
        "--viewers",
        "30",
        "--duration",
        "30",
        "--ramp",
        "0",
    ]
    with load_lock():
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        prefix = netns.run_prefix(process.pid)
        try:
            assert process.stdout is not None
            for line in process.stdout:  # bounded: the run itself lasts at most ~40 s
                if "viewers for" in line:
                    break
            running = [n for n in netns.namespaces() if n.startswith(prefix)]
            assert len(running) == 1 + 2 + 3 + 2 + 1 + 1  # the hosts and the switch
            process.send_signal(signal.SIGINT)  # Ctrl-C
            output, _ = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            left = netns.destroy(prefix)
    assert "interrupted; the city is torn down" in output
    assert process.returncode == 3
    assert left == []


def test_the_edges_summed_see_the_viewers_and_stalls_the_harness_saw(city: dict[str, Any]) -> None:
    """Issue 19 city-wide: every set-top box from its own home address, so the edges' viewers
    summed are within 2 % (+1) of the harness's, and their stalls within 5 % of what CMCD told."""
    seen = city["edge_audience"]
    assert seen["said"] and seen["viewers_note"] == "", seen
    [row] = seen["contents"].values()  # one channel
    truth, counted = row["harness_viewers"], row["edge_viewers"]
    assert truth >= 290 and abs(counted - truth) <= truth * 0.02 + 1, row
    assert row["harness_by_cohort"]["stb"] > 0 and row["edges"] == ["edge-0", "edge-1", "edge-2"]
    reportable = row["harness_rebuffers_reportable"]
    assert abs(row["edge_stalls"] - reportable) <= reportable * 0.05, row

"""The city's pure parts: topology, link shapes, what the numbers show, the planner's model."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from loadtest import audience
from loadtest.city import analysis, prom, results
from loadtest.city.shaping import burst_bytes, qdisc_commands, shape_for
from loadtest.city.topology import build_city, viewer_groups
from loadtest.config import parse_mix
from loadtest.planner import PlanInput, compute
from loadtest.population import home_address


def test_hosts_have_distinct_addresses_namespaces_and_node_ids() -> None:
    city = build_city("ccity1-", shields=2, edges=3, viewer_hosts=2)
    hosts = city.hosts
    assert len(hosts) == 1 + 2 + 3 + 2 + 1
    for attribute in ("address", "namespace", "port_name"):
        assert len({getattr(h, attribute) for h in hosts}) == len(hosts), attribute
    node_ids = [h.node_id for h in (*city.shields, *city.edges)]
    assert len(set(node_ids)) == len(node_ids)  # same hostname everywhere: ids must differ
    assert all(h.namespace.startswith("ccity1-") for h in hosts)
    assert all(len(h.port_name) <= 15 for h in hosts)  # IFNAMSIZ
    assert city.origin.url == "http://198.18.0.1:8080"
    assert [h.url for h in city.shields] == ["http://198.18.1.1:8081", "http://198.18.1.2:8081"]


@pytest.mark.parametrize(
    ("viewers", "edges", "hosts", "expected"),
    [
        (
            300,
            3,
            2,
            [
                ("viewers-0", "edge-0", 100),
                ("viewers-1", "edge-1", 100),
                ("viewers-0", "edge-2", 100),
            ],
        ),
        (
            10,
            3,
            1,
            [("viewers-0", "edge-0", 4), ("viewers-0", "edge-1", 3), ("viewers-0", "edge-2", 3)],
        ),
        (2, 3, 3, [("viewers-0", "edge-0", 1), ("viewers-1", "edge-1", 1)]),
    ],
)
def test_viewers_spread_over_the_edges_from_their_nearest_host(
    viewers: int, edges: int, hosts: int, expected: list[tuple[str, str, int]]
) -> None:
    city = build_city("p-", shields=1, edges=edges, viewer_hosts=hosts)
    groups = viewer_groups(city, viewers)
    assert [(g.host.name, g.edge.name, g.viewers) for g in groups] == expected
    assert sum(g.viewers for g in groups) == viewers


def test_bad_city_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="1 to 250"):
        build_city("p-", shields=0, edges=1, viewer_hosts=1)


def test_access_links_differ_and_core_links_do_not() -> None:
    assert shape_for("viewers", "iptv").down_mbit == 2488  # a GPON port
    assert shape_for("viewers", "5g").up_mbit == 100  # a 5G cell sector's uplink
    assert shape_for("edge", "iptv") == shape_for("edge", "5g")


def test_tbf_alone_without_netem_and_under_netem_with_it() -> None:
    assert qdisc_commands("eth0", 1000, 2.0, netem=False) == [
        [
            "qdisc",
            "add",
            "dev",
            "eth0",
            "root",
            "tbf",
            "rate",
            "1000mbit",
            "burst",
            str(burst_bytes(1000)),
            "latency",
            "50ms",
        ],
    ]
    delayed = qdisc_commands("eth0", 1000, 2.0, netem=True)
    assert delayed[0][4:] == ["root", "handle", "1:", "netem", "delay", "2ms"]
    assert delayed[1][4:7] == ["parent", "1:1", "handle"]
    assert burst_bytes(10) == 256 * 1024 and burst_bytes(10000) == 12_500_000


def test_metrics_text_is_parsed_into_edge_counters() -> None:
    text = (
        "# HELP classcast_edge_requests_total Requests\n"
        'classcast_edge_requests_total{cache="HIT"} 90.0\n'
        'classcast_edge_requests_total{cache="COALESCED"} 5.0\n'
        'classcast_edge_requests_total{cache="MISS"} 4.0\n'
        'classcast_edge_requests_total{cache="502"} 1.0\n'
        "classcast_edge_bytes_sent_total 1234.0\n"
        "classcast_edge_upstream_attempt_errors 3.0\n"
    )
    counters = analysis.edge_counters(analysis.parse_metrics(text))
    assert counters["requests"] == 100 and counters["hits"] == 95
    assert counters["bytes_sent"] == 1234 and counters["upstream_attempt_errors"] == 3


def test_origin_fetches_per_segment_count_segments_only() -> None:
    counts = {
        "/vod/a/360p/seg_1.ts": 1,
        "/vod/a/360p/seg_2.ts": 2,
        "/live/grade-5/360p/index.m3u8": 20,
        "/vod/a/master.m3u8": 1,
    }
    segments = analysis.segment_counts(counts)
    assert segments == {"/vod/a/360p/seg_1.ts": 1, "/vod/a/360p/seg_2.ts": 2}
    assert analysis.fetches_per_segment(segments) == 1.5
    assert analysis.difference({"a": 3, "b": 1}, {"a": 1, "b": 1}) == {"a": 2}


def test_the_origin_log_names_who_fetched_each_segment() -> None:
    lines = [
        orjson.dumps(
            {"ts": 10.0, "msg": "request", "path": "/vod/a/360p/s1.ts", "remote": "198.18.1.1"}
        ),
        orjson.dumps(
            {"ts": 11.0, "msg": "request", "path": "/vod/a/360p/s1.ts", "remote": "198.18.1.2"}
        ),
        orjson.dumps(
            {"ts": 12.0, "msg": "request", "path": "/vod/a/360p/s2.ts", "remote": "198.18.1.2"}
        ),
        orjson.dumps(
            {
                "ts": 13.0,
                "msg": "request",
                "path": "/live/x/360p/index.m3u8",
                "remote": "198.18.1.2",
            }
        ),
        b"not json",
    ]
    names = {"198.18.1.1": "shield-0", "198.18.1.2": "shield-1"}
    fetches = analysis.segment_fetch_log(lines, names)
    by_segment = analysis.fetchers_by_segment(fetches)
    assert by_segment == {
        "/vod/a/360p/s1.ts": ["shield-0", "shield-1"],
        "/vod/a/360p/s2.ts": ["shield-1"],
    }
    assert analysis.duplicate_report(by_segment) == {
        "segments": 2,
        "fetched_more_than_once": 1,
        "by_fetchers": {"shield-0 + shield-1": 1},
    }
    assert analysis.first_fetched_between(fetches, 10.5, 20) == ["/vod/a/360p/s2.ts"]
    assert analysis.repeated_fetches(fetches, 5.0) == {
        "/vod/a/360p/s1.ts": [(5.0, "shield-0"), (6.0, "shield-1")]
    }


def test_cohorts_merge_counts_and_keep_the_worst_percentiles() -> None:
    def summary(sessions: int, rebuffers: int, p95: float) -> dict[str, object]:
        return {
            "cohorts": {
                "stb": {
                    "sessions": sessions,
                    "rebuffers": rebuffers,
                    "startup_time": {"p50": p95 / 2, "p95": p95},
                    "bitrate": 600_000.0,
                }
            }
        }

    merged = analysis.merge_cohorts([summary(100, 1, 0.2), summary(50, 0, 0.5)])
    stb = merged["stb"]
    assert (stb["sessions"], stb["rebuffers"], stb["startup_time_p95"]) == (150, 1, 0.5)
    assert stb["bitrate"] == pytest.approx(600_000.0)


def test_rate_is_the_slope_of_a_counter_inside_the_window() -> None:
    rows = [{"t": 0.0, "x": 0}, {"t": 10.0, "x": 100}, {"t": 20.0, "x": 300}, {"t": 30.0, "x": 300}]
    assert analysis.rate(rows, "x", 10, 20) == 20.0
    assert analysis.rate(rows, "x", 10, 30) == 10.0
    assert analysis.rate(rows, "x", 25, 26) == 0.0  # fewer than two samples
    assert analysis.within(1.1, 1.0, 0.2) and not analysis.within(1.3, 1.0, 0.2)


def plan_input(**changes: object) -> PlanInput:
    values: dict[str, object] = dict(
        viewers=300,
        ladder_kbps=(160.0, 320.0),
        mix=parse_mix("stb=0.8,phone=0.2"),
        stb_kbps=320.0,
        segment_s=4.0,
        channels=1,
        window_segments=6,
        vod_hours=0.0,
        edge_gbps=10.0,
        edge_cores=8,
        core_gbps=5.0,
        edge_connections=50_000,
        headroom=0.7,
        edges_per_shield=20,
        spare_edges=1,
    )
    values.update(changes)
    return PlanInput(**values)  # type: ignore[arg-type]


def test_origin_load_with_shields_is_one_fetch_per_object_whatever_the_viewers() -> None:
    small = compute(plan_input(viewers=200, edges=3, shields=2))
    large = compute(plan_input(viewers=2000, edges=3, shields=2))
    assert small.origin_rps == large.origin_rps == pytest.approx(0.25 + 0.5)
    assert compute(plan_input(edges=3, shields=4)).origin_rps == small.origin_rps
    assert large.egress_gbps == pytest.approx(2000 * 320 / 1e6)


def test_without_shields_every_edge_fetches_every_object() -> None:
    plan = compute(plan_input(edges=3, shields=0))
    assert plan.origin_segments_per_s == pytest.approx(3 * 1 / 4)


def test_renditions_in_use_are_the_set_top_rung_and_the_top_rung() -> None:
    assert compute(plan_input(stb_kbps=160.0)).origin_segments_per_s == pytest.approx(2 / 4)
    watched = compute(plan_input(renditions_watched=2)).origin_segments_per_s
    assert watched == pytest.approx(2 / 4)


def test_the_city_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is installed by scripts/setup --dev (Debian prometheus)"
    city = build_city("ccity1-", shields=2, edges=3, viewer_hosts=1)
    path = tmp_path / "prometheus.yml"
    prom.write_config(city, path)
    result = subprocess.run(
        [promtool, "check", "config", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = {job["job_name"]: job for job in orjson.loads(path.read_bytes())["scrape_configs"]}
    assert jobs["shield"]["static_configs"][0]["targets"] == ["198.18.1.1:8081", "198.18.1.2:8081"]
    assert len(jobs["edge"]["static_configs"][0]["targets"]) == 3


def test_the_city_sums_each_edge_once_and_shows_why_viewer_counts_are_not_checked() -> None:
    def group(phones: int, stbs: int, edge_viewers: float) -> dict[str, object]:
        stalls = {"live/grade-10": {"rebuffers": 2, "told": 2, "merged": 0, "after_last": 0}}
        stalls["live/grade-10"] |= {"lost": 0, "no_cmcd": 1}
        truth = {"live/grade-10": {"all": phones + stbs, "phone": phones, "stb": stbs}}
        probe = {"viewers": {"live/grade-10": edge_viewers}, "stalls": {}}
        after = {"viewers": {}, "stalls": {"live/grade-10": 4.0}}
        return {"edge_audience": audience.compare(truth, stalls, probe, None, after)}

    # edge-0 behind both viewer hosts (its /metrics read by both), edge-1 behind one
    harness = {
        "viewers-0-via-edge-0": group(10, 40, 22.0),
        "viewers-1-via-edge-0": group(10, 40, 22.0),
        "viewers-0-via-edge-1": group(5, 20, 6.0),
    }
    seen = results._audience(harness, homes=False)
    row = seen["contents"]["live/grade-10"]
    assert (row["harness_viewers"], row["edge_viewers"]) == (125, 28.0)
    assert (row["harness_rebuffers_reportable"], row["edge_stalls"]) == (6, 8.0)
    [viewers] = seen["viewers"]
    assert not viewers["passed"] and "edge 28, harness 125" in viewers["detail"]
    assert "one address" in seen["viewers_note"]

    checked = results._audience(harness, homes=True)
    assert checked["viewers"] == [] and checked["viewers_note"] == ""


def test_each_viewer_host_has_its_own_homes_on_the_city_segment() -> None:
    city = build_city("ccity1-", shields=1, edges=1, viewer_hosts=12)
    homes = [ipaddress.IPv4Network(h.homes) for h in city.viewer_hosts]
    segment = ipaddress.IPv4Network("198.18.0.0/16")
    assert all(n.subnet_of(segment) and n.num_addresses == 4096 for n in homes)
    assert not any(a.overlaps(b) for i, a in enumerate(homes) for b in homes[i + 1 :])
    taken = {ipaddress.ip_address(h.address) for h in city.hosts}
    assert not any(address in n for address in taken for n in homes)
    assert build_city("ccity1-", 1, 1, 13).viewer_hosts[12].homes == ""  # beyond: shared
    assert {
        home_address(i, "http://198.18.2.1:8081/m.m3u8", "198.18.64.0/20") for i in range(4094)
    } == {str(a) for a in homes[0].hosts()}

"""A real Prometheus for the city (`--prometheus`): its config, and the charts' range queries.

The scrape jobs are config/prometheus/prometheus.yml's with static targets, and the rule files are
the same ones, so a broken rule fails the run too.
"""

from __future__ import annotations

import time
import urllib.parse
from pathlib import Path
from typing import Any

import orjson

from loadtest.city.inside import NamespaceHttp
from loadtest.city.topology import PROMETHEUS_PORT, City
from loadtest.errors import LoadtestError

RULES = Path(__file__).resolve().parents[2] / "config" / "prometheus"
SCRAPE_INTERVAL_S = 2
WINDOW = "10s"  # five scrapes per rate
QUERIES = {
    "hit_ratio": (
        "sum by (tier) (rate(classcast_edge_requests_total"
        f'{{cache=~"HIT|COALESCED|STALE|REVALIDATED"}}[{WINDOW}]))'
        f" / sum by (tier) (rate(classcast_edge_requests_total[{WINDOW}]))"
    ),
    "egress_mbit": f"sum by (tier) (rate(classcast_edge_bytes_sent_total[{WINDOW}])) * 8 / 1e6",
}


def config(city: City) -> dict[str, Any]:
    def job(tier: str, urls: list[str]) -> dict[str, Any]:
        targets = [url.removeprefix("http://") for url in urls]
        return {
            "job_name": tier,
            "static_configs": [{"targets": targets, "labels": {"tier": tier}}],
        }

    return {
        "global": {
            "scrape_interval": f"{SCRAPE_INTERVAL_S}s",
            "evaluation_interval": f"{SCRAPE_INTERVAL_S}s",
        },
        "rule_files": [str(RULES / "rules.yml"), str(RULES / "alerts.yml")],
        "scrape_configs": [
            job("origin", [city.origin.url]),
            job("shield", [h.url for h in city.shields]),
            job("edge", [h.url for h in city.edges]),
        ],
    }


def write_config(city: City, path: Path) -> None:
    path.write_bytes(orjson.dumps(config(city), option=orjson.OPT_INDENT_2))  # JSON is YAML


def command(config_path: Path, data: Path, city: City) -> list[str]:
    return [
        "prometheus",
        f"--config.file={config_path}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address={city.ops.address}:{PROMETHEUS_PORT}",
        "--log.level=warn",
    ]


def base_url(city: City) -> str:
    return f"http://{city.ops.address}:{PROMETHEUS_PORT}"


def query_range(
    http: NamespaceHttp, city: City, expr: str, start: float, end: float
) -> dict[str, list[tuple[float, float]]]:
    """{tier: [(seconds since start, value)]} for one expression."""
    params = urllib.parse.urlencode(
        {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": SCRAPE_INTERVAL_S}
    )
    answer = orjson.loads(http.get(f"{base_url(city)}/api/v1/query_range?{params}", timeout=10))
    if answer.get("status") != "success":
        raise LoadtestError(f"prometheus query failed: {answer.get('error')}")
    series: dict[str, list[tuple[float, float]]] = {}
    for result in answer["data"]["result"]:
        points = [(float(t) - start, float(v)) for t, v in result["values"] if v not in ("NaN",)]
        series[result["metric"].get("tier", "all")] = points
    return series


def charts_data(http: NamespaceHttp, city: City, start: float) -> dict[str, Any]:
    end = time.time()
    return {name: query_range(http, city, expr, start, end) for name, expr in QUERIES.items()}

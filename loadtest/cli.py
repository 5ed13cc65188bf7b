"""Command-line parsing: `run` and `plan`. Bad input is one line on stderr and exit status 2."""

from __future__ import annotations

from typing import NoReturn

from classcast.cli import OneLineParser
from loadtest.city import cli as city_cli
from loadtest.errors import ConfigError
from loadtest.planner import CORE_GBPS


class Parser(OneLineParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def build_parser() -> Parser:
    parser = Parser(prog="python -m loadtest", description="classcast HLS load-test harness")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    run = commands.add_parser("run", help="simulate viewers against a master playlist URL")
    run.add_argument("--target", required=True, help="URL of a master playlist")
    run.add_argument("--viewers", type=int, required=True)
    run.add_argument("--duration", type=float, required=True, help="seconds")
    run.add_argument("--ramp", type=float, help="seconds over which viewers join")
    run.add_argument("--mix", help="cohort shares, e.g. stb=0.8,phone=0.2")
    run.add_argument(
        "--ll", action="store_true", help="every viewer is an LL-HLS player (same as --mix ll=1)"
    )
    run.add_argument("--processes", type=int, help="worker processes (one event loop each)")
    run.add_argument("--report", help="directory for summary.json and report.html")
    run.add_argument("--ndjson", help="write one JSON line per request to this file")
    run.add_argument("--threshold", action="append", default=[], help="e.g. 'p95(startup_time)<2s'")
    run.add_argument("--thresholds-file", help="TOML file with [thresholds] rules = [...]")
    run.add_argument("--rendition", help="set-top box rendition: lowest, highest or a name")
    run.add_argument("--phone-bandwidth", help="fixed=KBPS, walk=START,LOW,HIGH or trace=FILE")
    run.add_argument(
        "--ll-bandwidth",
        help="LL-HLS viewers' network, as --phone-bandwidth (default: unthrottled)",
    )
    run.add_argument("--config", help="TOML defaults (default: config/loadtest.toml)")
    run.add_argument("--no-progress", action="store_true", help="no live progress view")
    run.add_argument(
        "--insecure", action="store_true", help="https: do not verify the certificate (self-signed)"
    )
    run.add_argument("--homes", help="set-top boxes' source addresses, e.g. 198.18.64.0/20")
    merge = commands.add_parser("merge", help="merge the reports of several runs into one")
    merge.add_argument("runs", nargs="+", metavar="DIR", help="report directories of the runs")
    merge.add_argument("--report", required=True, help="directory for the merged report")
    merge.add_argument("--threshold", action="append", default=[], help="as for run")
    plan = commands.add_parser("plan", help="size edges, shields, cache and origin load")
    plan.add_argument("--viewers", type=int, required=True)
    plan.add_argument(
        "--ladder", required=True, help="kbit/s per rendition, e.g. 300,560,1500,3000"
    )
    plan.add_argument("--mix", default="stb=0.8,phone=0.2")
    plan.add_argument("--stb-rendition", default="highest", help="lowest, highest or kbit/s")
    plan.add_argument("--segment-duration", type=float, default=4.0)
    plan.add_argument("--channels", type=int, default=1, help="live channels watched at once")
    plan.add_argument("--window-segments", type=int, default=6, help="live playlist window")
    plan.add_argument("--vod-hours", type=float, default=0.0, help="recorded hours kept hot")
    plan.add_argument("--edge-gbps", type=float, default=10.0, help="usable NIC per edge")
    plan.add_argument("--edge-cores", type=int, default=8)
    plan.add_argument("--core-gbps", type=float, default=CORE_GBPS, help="measured Gbit/s per core")
    plan.add_argument("--edge-connections", type=int, default=50_000)
    plan.add_argument(
        "--headroom", type=float, default=0.7, help="fraction of capacity to plan for"
    )
    plan.add_argument("--edges-per-shield", type=int, default=20)
    plan.add_argument("--spare-edges", type=int, default=1, help="N+k redundancy")
    city_cli.add_parser(commands)
    plan.add_argument("--edges", type=int, help="edges deployed (default: computed)")
    plan.add_argument("--shields", type=int, help="shields deployed (default: computed)")
    plan.add_argument(
        "--renditions-watched", type=int, help="renditions with viewers (default: STB + top rung)"
    )
    return parser

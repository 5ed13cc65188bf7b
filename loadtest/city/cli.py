"""`python -m loadtest city ...`: flags, the run, the report, the exit status."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from loadtest.city import report
from loadtest.city.results import summarise
from loadtest.city.run import CityRun, is_root, unwinding_signals
from loadtest.city.settings import CitySettings, validate
from loadtest.errors import ConfigError

DEFAULTS = CitySettings()


def add_parser(commands: argparse._SubParsersAction[Any]) -> None:
    city = commands.add_parser(
        "city", help="a small city in network namespaces: origin, shields, edges, viewers (root)"
    )
    city.add_argument("--shields", type=int, default=DEFAULTS.shields)
    city.add_argument("--edges", type=int, default=DEFAULTS.edges)
    city.add_argument("--viewer-hosts", type=int, default=DEFAULTS.viewer_hosts)
    city.add_argument("--viewers", type=int, default=DEFAULTS.viewers)
    city.add_argument("--duration", type=float, default=DEFAULTS.duration_s, help="seconds")
    city.add_argument("--ramp", type=float, default=DEFAULTS.ramp_s, help="seconds")
    city.add_argument("--kill-shield-at", type=float, help="SIGKILL shield-0 at this second")
    city.add_argument("--access", choices=["iptv", "5g"], default=DEFAULTS.access)
    city.add_argument("--channel", default=DEFAULTS.channel)
    city.add_argument("--mix", default=DEFAULTS.mix)
    city.add_argument("--report", default=str(DEFAULTS.report_dir), help="directory")
    city.add_argument("--prometheus", action="store_true", help="run Prometheus, chart from it")
    city.add_argument(
        "--tls", action="store_true", help="edges reach the shields over HTTPS (a CA of the run)"
    )
    city.add_argument("--shield-config", default=str(DEFAULTS.shield_config))
    city.add_argument("--edge-config", default=str(DEFAULTS.edge_config))


def settings_from(args: argparse.Namespace) -> CitySettings:
    return validate(
        CitySettings(
            shields=args.shields,
            edges=args.edges,
            viewer_hosts=args.viewer_hosts,
            viewers=args.viewers,
            duration_s=args.duration,
            ramp_s=args.ramp,
            kill_shield_at=args.kill_shield_at,
            report_dir=Path(args.report),
            access=args.access,
            channel=args.channel,
            mix=args.mix,
            prometheus=args.prometheus,
            tls=args.tls,
            shield_config=Path(args.shield_config),
            edge_config=Path(args.edge_config),
        )
    )


def run_city(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if not is_root():
        raise ConfigError("city: needs root (it creates network namespaces)")

    def say(line: str) -> None:
        print(f"city: {line}", flush=True)

    run = CityRun(settings, say)
    began = time.monotonic()
    with unwinding_signals():
        try:
            run.build()
            run.start_services()
            master = run.master_playlist()
            run.start_viewers()
            say(f"{settings.viewers} viewers for {settings.duration_s:g} s")
            run.watch()
            prometheus = run.prometheus_series()
            summary = summarise(run, master, run.origin_fetches(), prometheus)
        finally:
            run.teardown()
            say(f"torn down; {time.monotonic() - began:.0f} s in all")
    report.write(settings.report_dir, summary)
    for check in summary["checks"]:
        say(f"{'pass' if check['passed'] else 'FAIL'}: {check['check']} ({check['detail']})")
    for shown in summary["edge_audience"].get("viewers", []):  # issue 19, shown not checked
        verdict = "within" if shown["passed"] else "MISSED"
        say(f"shown, not checked ({verdict}): {shown['check']} ({shown['detail']})")
    if summary["edge_audience"].get("viewers"):
        say(f"why not checked: {summary['edge_audience']['viewers_note']}")
    say(f"report: {settings.report_dir / 'report.html'}")
    return 0 if summary["passed"] else 1

"""The deployables render and pass their linters: Kubernetes (kustomize + checkov), the
Dockerfile (hadolint), Prometheus (promtool), and every metric they name is really exported."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.certs import make_ca, make_leaf
from tests.support.process import ROOT, run_service

CONFIG = ROOT / "config"
OVERLAYS = sorted(p.name for p in (CONFIG / "kubernetes" / "overlays").iterdir())
TOOLS = ROOT / ".venv" / "tools" / "bin"  # scripts/setup --dev installs checkov, hadolint here


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(TOOLS))
    assert found, f"{name} is missing: run scripts/setup --dev"
    return found


def run(*command: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, **kwargs)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result


def render(overlay: str) -> str:
    return run(
        tool("kubectl"), "kustomize", str(CONFIG / "kubernetes" / "overlays" / overlay)
    ).stdout


def documents(overlay: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(render(overlay)) if d]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_checkov_passes_on_the_rendered_manifests(overlay: str, tmp_path: Path) -> None:
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(render(overlay))
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}  # offline: no call to an outside service
    result = run(
        tool("checkov"),
        "--config-file",
        str(CONFIG / "kubernetes" / ".checkov.yaml"),
        "-f",
        str(rendered),
        "--skip-download",
        "--compact",
        "--quiet",
        "-o",
        "json",
        env=env,
        cwd=tmp_path,
    )
    summary = json.loads(result.stdout)["summary"]
    assert summary["failed"] == 0
    assert summary["passed"] > 100  # it really checked the workloads


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_manifests_have_the_three_tiers_wired_together(overlay: str) -> None:
    docs = documents(overlay)
    deployments, sets = by_kind(docs, "Deployment"), by_kind(docs, "StatefulSet")
    services = by_kind(docs, "Service")
    assert set(deployments) == {"origin", "edge"} and set(sets) == {"shield"}
    assert services["shield"]["spec"]["clusterIP"] == "None"  # stable names to hash onto
    shield = sets["shield"]
    names = [f"http://shield-{i}.shield:8081" for i in range(shield["spec"]["replicas"])]
    edge = deployments["edge"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in edge["env"]}
    assert env["CLASSCAST_EDGE_UPSTREAMS"]["value"].split(",") == names  # every shield, once
    for workload in [*deployments.values(), shield]:
        pod = workload["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        configmap = next(v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v)
        assert configmap in by_kind(docs, "ConfigMap")  # the generated, hashed name
    for name in ("edge", "shield"):  # distinct node ids, or a tier sees a loop and answers 508
        pod = (deployments.get(name) or shield)["spec"]["template"]["spec"]
        env = {e["name"]: e for e in pod["containers"][0]["env"]}
        node_id = env["CLASSCAST_EDGE_NODE_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
        assert node_id == "metadata.name"
    assert {"edge", "shield"} <= set(by_kind(docs, "PodDisruptionBudget"))
    hpa = by_kind(docs, "HorizontalPodAutoscaler")["edge"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "edge"
    edge_pod = deployments["edge"]["spec"]["template"]["spec"]
    secret = next(v["secret"] for v in edge_pod["volumes"] if v["name"] == "tls")
    assert secret["secretName"] == "edge-tls"  # the certificate, mounted read-only
    env = {e["name"]: e.get("value") for e in edge_pod["containers"][0]["env"]}
    mount = next(m for m in edge_pod["containers"][0]["volumeMounts"] if m["name"] == "tls")
    assert env["CLASSCAST_EDGE_TLS_CERT"].startswith(mount["mountPath"] + "/")
    https = next(p for p in services["edge"]["spec"]["ports"] if p["name"] == "https")
    assert (https["port"], https["targetPort"]) == (443, "https")
    container_ports = {p["name"]: p["containerPort"] for p in edge_pod["containers"][0]["ports"]}
    assert container_ports["https"] == int(env["CLASSCAST_EDGE_TLS_PORT"])


def test_configmaps_carry_the_reviewed_config_files() -> None:
    """kustomize reads files only below the base, so it holds copies of config/*.toml."""
    copies = sorted((CONFIG / "kubernetes" / "base" / "toml").glob("*.toml"))
    assert [p.name for p in copies] == ["edge.toml", "origin.toml", "schedule.toml", "shield.toml"]
    for copy in copies:
        assert copy.read_bytes() == (CONFIG / copy.name).read_bytes(), (
            f"{copy} differs from config/{copy.name}: cp config/{copy.name} {copy}"
        )


def test_dockerfile_passes_hadolint() -> None:
    run(tool("hadolint"), "Dockerfile", cwd=ROOT)
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("\nFROM ") + text.startswith("FROM ") >= 2  # multi-stage
    assert re.search(r"^USER 10001", text, re.M) and re.search(r"^HEALTHCHECK ", text, re.M)


def test_hadolint_fails_a_bad_dockerfile(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python\nRUN cd /tmp && pip install aiohttp\n")
    result = subprocess.run([tool("hadolint"), "Dockerfile"], cwd=tmp_path, capture_output=True)
    assert result.returncode != 0  # the linter is live, not a stand-in


def test_promtool_accepts_the_config_and_rules() -> None:
    prometheus = CONFIG / "prometheus"
    run(tool("promtool"), "check", "config", str(prometheus / "prometheus.yml"))
    rules = [str(prometheus / "rules.yml"), str(prometheus / "alerts.yml")]
    run(tool("promtool"), "check", "rules", *rules)


def test_promtool_tests_the_stalled_viewers_alert() -> None:
    run(tool("promtool"), "test", "rules", str(Path(__file__).parent / "viewers_alert_test.yml"))


def test_alerts_cover_what_matters_to_a_video_edge() -> None:
    alerts = yaml.safe_load((CONFIG / "prometheus" / "alerts.yml").read_text())
    names = {rule["alert"] for group in alerts["groups"] for rule in group["rules"]}
    assert {
        "EdgeDown",
        "EdgeHitRatioLow",
        "StaleLivePlaylistsServed",
        "Edge5xxRate",
        "UpstreamErrors",
        "DiskTierFull",
    } <= names


def dashboard_exprs() -> list[str]:
    board = json.loads((CONFIG / "grafana" / "classcast.json").read_text())
    return [target["expr"] for panel in board["panels"] for target in panel["targets"]]


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    exprs = dashboard_exprs()
    assert any("hit_ratio" in e for e in exprs) and any("egress" in e for e in exprs)
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:panel_{i}", "expr": e} for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump(rules))
    run(tool("promtool"), "check", "rules", str(tmp_path / "dashboard.yml"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    """The metric names a real origin and a real edge expose on /metrics."""
    logs = tmp_path_factory.mktemp("logs")
    origin_args = ["--content", str(ROOT / "content"), "--schedule", str(CONFIG / "schedule.toml")]
    with run_service("origin", origin_args, logs / "origin.log") as origin:
        edge_args = ["--upstream", origin.url, "--no-access-log"]
        with run_service("edge", edge_args, logs / "edge.log") as edge:
            # a viewer whose player sends CMCD (issue 19): bl=1000,br=300,sid="deploy"
            cmcd = "CMCD=bl%3D1000%2Cbr%3D300%2Cmtp%3D900%2Csid%3D%22deploy%22"
            watched = f"{edge.url}/live/grade-5/180p/index.m3u8?{cmcd}"
            for url in (edge.url + "/live/grade-5/master.m3u8", watched, edge.url + "/nope.ts"):
                # the 404 is wanted too: error answers are counted by their status
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(url).read()
            names = set()
            for service in (origin, edge):
                text = urllib.request.urlopen(service.url + "/metrics").read().decode()
                names |= {m.group(1) for m in re.finditer(r"^([a-z_:]+)[{ ]", text, re.M)}
            yield names


def referenced_metrics(expr: str) -> set[str]:
    """Raw metric names; recording rules (level:metric:operation) are not exported names."""
    return set(re.findall(r"(?<![:\w])(classcast_[a-z_]+)(?![:\w])", expr))


def test_every_metric_the_rules_and_dashboard_name_is_exported(exported: set[str]) -> None:
    prometheus = CONFIG / "prometheus"
    exprs = dashboard_exprs()
    for name in ("rules.yml", "alerts.yml"):
        groups = yaml.safe_load((prometheus / name).read_text())["groups"]
        exprs += [rule["expr"] for group in groups for rule in group["rules"]]
    referenced = set().union(*(referenced_metrics(e) for e in exprs))
    assert {"classcast_edge_requests_total", "classcast_edge_bytes_sent_total"} <= referenced
    assert referenced - exported == set()


@pytest.mark.parametrize("workload", ["origin", "shield", "edge"])
def test_services_start_with_the_manifests_command_config_and_environment(
    workload: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The container's command, its ConfigMap file and its env, on loopback: paths inside the
    image and the pod are mapped to the checkout; DNS names stay (nothing is fetched)."""
    docs = documents(OVERLAYS[0])
    found = {**by_kind(docs, "Deployment"), **by_kind(docs, "StatefulSet")}[workload]
    container = found["spec"]["template"]["spec"]["containers"][0]
    tls = tmp_path / "tls"  # the Secret edge-tls, as kubernetes.io/tls names its keys
    leaf = make_leaf(make_ca(tmp_path / "ca"), tls, "tls", 1)
    paths = {
        "/etc/classcast/tls/tls.crt": str(leaf.cert),
        "/etc/classcast/tls/tls.key": str(leaf.key),
        "/etc/classcast/": str(CONFIG / "kubernetes" / "base" / "toml") + "/",
        "/app/content": str(ROOT / "content"),
        "/var/cache/classcast": str(tmp_path / "cache"),
    }

    def local(value: str) -> str:
        for inside, outside in paths.items():
            value = value.replace(inside, outside)
        return value

    for variable in container["env"]:
        value = variable.get("value", f"{workload}-0")  # fieldRef: the pod's name
        if variable["name"] == "CLASSCAST_EDGE_TLS_PORT":
            value = "0"  # any free port: tests never take a fixed one
        monkeypatch.setenv(variable["name"], local(value))
    module, command, *args = container["command"][2:]
    assert command == "serve"
    with run_service(module, [local(a) for a in args], tmp_path / "log") as service:
        for path in ("/healthz", "/readyz"):
            assert urllib.request.urlopen(service.url + path).status == 200

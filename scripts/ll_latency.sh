#!/bin/bash
# Issue 20: harness LL-HLS viewers through origin -> shield -> edge (one process each, free
# loopback ports), their latency behind live, stalls, and each process's CPU share over the run
# (BENCHMARKS.md, "LL-HLS"). Run it under flock /tmp/classcast-load.lock.
# VIEWERS (default 1000), DURATION (30 s), RAMP (10 s), PROCESSES (harness processes, 1).
set -e
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD
P=${PYTHON:-.venv/bin/python}
T=$(mktemp -d)
free() { $P -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
OP=$(free); SP=$(free); EP=$(free)
common=(--no-access-log --rate-per-client 0 --max-conns-per-client 0 --log-level warning)
$P -m origin serve --host 127.0.0.1 --port $OP --content content --schedule config/schedule.toml > $T/origin.log 2>&1 &
O=$!
$P -m edge serve --host 127.0.0.1 --port $SP --upstream http://127.0.0.1:$OP --node-id shield-1 --cache-dir $T/shield "${common[@]}" > $T/shield.log 2>&1 &
S=$!
$P -m edge serve --host 127.0.0.1 --port $EP --upstream http://127.0.0.1:$SP --node-id edge-1 --cache-dir $T/edge "${common[@]}" > $T/edge.log 2>&1 &
E=$!
trap 'kill $O $S $E 2>/dev/null' EXIT
for port in $OP $SP $EP; do
  for _ in $(seq 1 50); do curl -sf -o /dev/null http://127.0.0.1:$port/healthz && break; sleep 0.2; done
done
cpu() { for pid in "$@"; do awk '{print $14 + $15}' /proc/$pid/stat; done | paste -sd' '; }
before=$(cpu $O $S $E); t0=$(date +%s.%N)
$P -m loadtest run --ll --rendition lowest --target http://127.0.0.1:$EP/live/grade-5/master.m3u8 \
  --viewers ${VIEWERS:-1000} --duration ${DURATION:-30} --ramp ${RAMP:-10} \
  --processes ${PROCESSES:-1} --no-progress --report $T/report > $T/run.txt 2>&1 || true
after=$(cpu $O $S $E); t1=$(date +%s.%N)
$P - "$T" "$before" "$after" "$t0" "$t1" <<'PY'
import json, os, sys
root, before, after, t0, t1 = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), float(sys.argv[4]), float(sys.argv[5])
s = json.load(open(f"{root}/report/summary.json"))
ll = s["cohorts"]["ll"]
lat = ll["latency"]
print(f"viewers {s['viewers']} for {s['duration_s']} s: latency p50 {lat['p50']:.2f} s p99 {lat['p99']:.2f} s "
      f"(samples {lat['count']}), rebuffers {ll['rebuffers']}, start failures {ll['start_failures']}")
tick = os.sysconf("SC_CLK_TCK")
for name, b, a in zip(("origin", "shield", "edge"), before, after):
    print(f"  {name} CPU {(int(a) - int(b)) / tick / (t1 - t0):.0%} of a core")
print("  generator:", json.dumps(s.get("generator", {})))
print("  requests:", {k: v.get("count") for k, v in s.get("requests", {}).items()})
PY
echo "logs: $T"

#!/bin/bash
# Issue 19: the edge's viewer counts and stalls against the harness's truth, 2,000 viewers on
# three channels through a 2-worker node (BENCHMARKS.md, "Viewers: accuracy"). Run it under
# flock /tmp/classcast-load.lock; VIEWERS, DURATION and PHONE_BANDWIDTH override 2000, 60 and
# walk=600,150,3000 (kbit/s: start, low, high).
set -e
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD
P=${PYTHON:-.venv/bin/python}
T=$(mktemp -d)
OP=$($P -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
EP=$($P -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
$P -m origin serve --host 127.0.0.1 --port $OP --content content --schedule config/schedule.toml > $T/origin.log 2>&1 &
O=$!
$P -m edge serve --host 127.0.0.1 --port $EP --upstream http://127.0.0.1:$OP --workers 2 --no-access-log --rate-per-client 0 --cache-dir $T/cache > $T/edge.log 2>&1 &
E=$!
trap "kill $O $E" EXIT
sleep 4
E_URL=http://127.0.0.1:$EP
$P -m loadtest run --target "$E_URL/live/grade-5/master.m3u8,$E_URL/live/grade-8/master.m3u8,$E_URL/live/grade-10/master.m3u8" \
  --viewers ${VIEWERS:-2000} --duration ${DURATION:-60} --ramp 20 --mix stb=0.8,phone=0.2 \
  --phone-bandwidth ${PHONE_BANDWIDTH:-walk=600,150,3000} --no-progress --report $T/report || true
$P - <<PY
import json; s=json.load(open("$T/report/summary.json")); print(json.dumps(s["edge_audience"], indent=1)); print("generator bound:", s["generator"]["bound"])
rows = s["edge_audience"]["contents"].values()
total = lambda k: sum(r[k] or 0 for r in rows)
print(f"rebuffers: phones {total('harness_rebuffers')}, reportable by CMCD {total('harness_rebuffers_reportable')},"
      f" edge stalls {total('edge_stalls'):g}; set-top boxes (no CMCD) {total('harness_rebuffers_no_cmcd')}")
PY
t0=$(date +%s.%N)
for i in $(seq 1 30); do
  v=$(curl -s $E_URL/metrics | grep '^classcast_edge_viewers{' | awk '{s+=$2} END {print s+0}')
  if [ "$v" = "0" ]; then echo "viewers 0 after $(echo "$(date +%s.%N) - $t0" | bc) s past the harness's end"; break; fi
  sleep 0.5
done
